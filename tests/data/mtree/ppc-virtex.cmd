qemu-system-ppc -M virtex-ml507 -accel tcg -S -display none -nodefaults -qmp unix:SOCKET,server=on,wait=off
