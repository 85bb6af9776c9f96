COUNTRY = "US"
PAIR_A = False
PAIR_B = False
FAR = False
