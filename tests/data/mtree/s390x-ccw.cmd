qemu-system-s390x -M s390-ccw-virtio -accel tcg -S -display none -nodefaults -qmp unix:SOCKET,server=on,wait=off
