qemu-system-ppc -M ref405ep -accel tcg -S -display none -nodefaults -qmp unix:SOCKET,server=on,wait=off
