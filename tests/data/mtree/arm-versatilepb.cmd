qemu-system-arm -M versatilepb -accel tcg -S -display none -nodefaults -qmp unix:SOCKET,server=on,wait=off
