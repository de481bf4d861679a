echo cli tests todo
