qemu-system-loongarch64 -M virt -accel tcg -S -display none -nodefaults -qmp unix:SOCKET,server=on,wait=off
