qemu-system-hppa -M hppa -accel tcg -S -display none -nodefaults -qmp unix:SOCKET,server=on,wait=off
