"""The vocabulary and the word lists used to make data (shared by make_data, train, export and evaluate)."""

DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "oh"]
COMMANDS = [
    "yes", "no", "start", "stop", "pass", "fail", "next", "back", "repeat", "cancel",
    "go", "forward", "left", "right", "up", "down", "on", "off",
]
UNK = "<unk>"
# CTC labels: index 0 is the blank, then the words, then <unk> (any out-of-vocabulary word)
WORDS = DIGITS + COMMANDS
LABELS = ["<blank>"] + WORDS + [UNK]

# Out-of-vocabulary words for the reject class. Homophones of vocabulary words (for/to/too/won/ate/know/
# write/owe...) are deliberately absent: nobody can tell them apart by ear.
OOV_WORDS = ["hello", "world", "table", "water", "coffee", "machine", "window", "paper", "yellow", "purple", "orange", "green", "blue", "black", "white", "house", "garden", "motor", "engine", "sensor", "camera", "picture", "battery", "power", "signal", "record", "report", "system", "station", "number", "letter", "label", "sticker", "metal", "plastic", "handle", "button", "switch", "lever", "valve", "pump", "filter", "bottle", "carton", "pallet", "truck", "driver", "worker", "supervisor", "lunch", "break", "shift", "morning", "evening", "tonight", "tomorrow", "yesterday", "monday", "friday", "weekend", "happy", "sorry", "thanks", "please", "maybe", "later", "never", "always", "often", "quick", "slow", "heavy", "light", "warm", "cold", "hot", "bright", "dark", "clean", "dirty", "broken", "open", "close", "lock", "unlock", "above", "below", "inside", "outside", "between", "under", "over", "around", "through", "across", "behind", "beside", "middle", "center", "corner", "edge", "surface", "level", "pressure", "temperature", "voltage", "current", "speed", "volume", "weight", "length", "width", "height", "depth", "twenty", "thirty", "forty", "fifty", "hundred", "thousand", "million", "seventeen", "sixteen", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "eighteen", "nineteen", "first", "second", "third", "fourth", "fifth", "last", "again", "check", "verify", "confirm", "delete", "insert", "enter", "escape", "return", "restart", "resume", "pause", "play", "rewind", "skip", "select", "choose", "pick", "drop", "lift", "push", "pull", "turn", "twist", "bend", "fold", "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "hotel", "india", "kilo", "lima", "mike", "oscar", "papa", "quebec", "romeo", "sierra", "tango", "uniform", "victor", "whiskey", "xray", "zulu", "apple", "banana", "cherry", "lemon", "pepper", "salt", "sugar", "bread", "butter", "cheese"]

# OOV words that sound close to vocabulary words: the hard negatives
NEAR_MISS = ["seventy", "ninety", "sixty", "eighty", "tree", "free", "sticks", "heaven", "yet", "yellow", "fast", "mast", "post", "stoppage", "starter", "station", "failure", "fell", "past", "passing", "nest", "text", "bag", "pack", "feet", "treat", "canceled", "gone", "going", "forwarded", "lift", "loft", "bright", "night", "under", "upper", "done", "town", "fun", "own", "often", "office"]
