qemu-system-arm -M vexpress-a9 -audiodev none,id=snd0 -global pl041.audiodev=snd0 -accel tcg -S -display none -nodefaults -qmp unix:SOCKET,server=on,wait=off
