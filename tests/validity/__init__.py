"""Each assignment's correct and known-wrong answers, and the tests that grade them."""
