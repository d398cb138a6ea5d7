qemu-system-ppc -M bamboo -accel tcg -S -display none -nodefaults -qmp unix:SOCKET,server=on,wait=off
