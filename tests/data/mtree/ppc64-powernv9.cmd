qemu-system-ppc64 -M powernv9 -accel tcg -S -display none -nodefaults -qmp unix:SOCKET,server=on,wait=off
