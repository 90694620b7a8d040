chmod 0600 file2
chmod 0755 file1
