qemu-system-ppc -M sam460ex -accel tcg -S -display none -nodefaults -qmp unix:SOCKET,server=on,wait=off
