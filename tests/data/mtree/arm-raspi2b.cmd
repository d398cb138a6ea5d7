qemu-system-arm -M raspi2b -accel tcg -S -display none -nodefaults -qmp unix:SOCKET,server=on,wait=off
