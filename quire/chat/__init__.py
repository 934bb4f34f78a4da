"""What the app and `quire ask -c` share: chats, the background index writer, views of sources."""
