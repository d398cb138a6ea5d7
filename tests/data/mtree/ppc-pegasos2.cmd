qemu-system-ppc -M pegasos2 -accel tcg -S -display none -nodefaults -qmp unix:SOCKET,server=on,wait=off
