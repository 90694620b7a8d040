mkdir -p t/pkg/sub
echo a > t/pkg/a
echo b > t/pkg/sub/b
ln -s ../../etc/passwd t/pkg/up-link
tar --numeric-owner --owner=7 --group=8 -C t -czf archive.tar.gz pkg
rm -rf t
