qemu-system-alpha -M clipper -accel tcg -S -display none -nodefaults -qmp unix:SOCKET,server=on,wait=off
