qemu-system-ppc64 -M pseries -accel tcg -S -display none -nodefaults -qmp unix:SOCKET,server=on,wait=off
