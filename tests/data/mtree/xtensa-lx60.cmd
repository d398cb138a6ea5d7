qemu-system-xtensa -M lx60 -accel tcg -S -display none -nodefaults -qmp unix:SOCKET,server=on,wait=off
