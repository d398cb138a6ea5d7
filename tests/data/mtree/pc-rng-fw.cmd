qemu-system-x86_64 -M pc -device virtio-rng-pci -accel tcg -S -display none -nodefaults -qmp unix:SOCKET,server=on,wait=off
