#loc1 = loc("images")
%0 = "top.Conv"() loc(fused["a_Conv", "b"])
