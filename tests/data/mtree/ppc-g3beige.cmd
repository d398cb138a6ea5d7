qemu-system-ppc -M g3beige -accel tcg -S -display none -nodefaults -qmp unix:SOCKET,server=on,wait=off
