mkdir -p dir/sub
echo linked > dir/one
ln dir/one dir/two
ln dir/one dir/sub/three
echo alone > dir/alone
