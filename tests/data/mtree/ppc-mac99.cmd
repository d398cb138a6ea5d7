qemu-system-ppc -M mac99 -accel tcg -S -display none -nodefaults -qmp unix:SOCKET,server=on,wait=off
