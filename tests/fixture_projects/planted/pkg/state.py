MODE = "production"
READY = False
