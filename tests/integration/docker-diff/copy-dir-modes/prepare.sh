mkdir -p private/inner
echo p > private/inner/p
chmod 0700 private
chmod 0711 private/inner
