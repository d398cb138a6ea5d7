qemu-system-aarch64 -M virt -cpu cortex-a57 -accel tcg -S -display none -nodefaults -qmp unix:SOCKET,server=on,wait=off
