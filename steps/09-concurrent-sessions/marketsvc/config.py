# steps: patch


# steps: main Settings
