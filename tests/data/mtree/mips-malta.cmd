qemu-system-mips -M malta -accel tcg -S -display none -nodefaults -qmp unix:SOCKET,server=on,wait=off
