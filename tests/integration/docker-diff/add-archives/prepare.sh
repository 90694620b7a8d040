mkdir -p t/top/sub
echo a > t/top/a
echo b > t/top/sub/b
chmod 0751 t/top/sub
chmod 4755 t/top/a
ln -s a t/top/link
ln t/top/a t/top/hard
mkfifo t/top/fifo
tar --numeric-owner --owner=1000 --group=1000 -C t -czf archive.tar.gz top
tar --numeric-owner --owner=0 --group=0 -C t/top -cf plain.tar .
echo "just gzip, not a tar" | gzip > notatar.gz
echo file > file.txt
mkdir -p dir && echo d > dir/d
rm -rf t
