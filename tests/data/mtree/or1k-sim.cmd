qemu-system-or1k -M or1k-sim -accel tcg -S -display none -nodefaults -qmp unix:SOCKET,server=on,wait=off
