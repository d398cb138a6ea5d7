qemu-system-ppc -M 40p -accel tcg -S -display none -nodefaults -qmp unix:SOCKET,server=on,wait=off
