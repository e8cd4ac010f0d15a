# steps: patch main
