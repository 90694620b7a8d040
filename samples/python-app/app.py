import os
import socket

# The body of Docker's "friendly hello" app, without the web server: print the greeting.
print(f"Hello {os.getenv('NAME', 'world')}!")
print(f"Hostname: {socket.gethostname()}")
