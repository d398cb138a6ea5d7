qemu-system-x86_64 -M q35 -accel tcg -S -display none -nodefaults -qmp unix:SOCKET,server=on,wait=off
