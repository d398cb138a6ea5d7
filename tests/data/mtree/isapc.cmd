qemu-system-x86_64 -M isapc -accel tcg -S -display none -nodefaults -qmp unix:SOCKET,server=on,wait=off
