"""The topics of a generated lecture (:mod:`videopipe.testing.lecture`): what each says.

Each :class:`Topic` has a slide title, its own sentences, the nouns its filler sentences are made
of, and one *fact*: a sentence said once in the topic, with a query that paraphrases it in words
the talk never says (what ``locate`` is measured with).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FILLERS", "HELD_OUT_QUERIES", "TOPICS", "Topic"]


@dataclass(frozen=True)
class Topic:
    name: str
    title: str
    sentences: tuple[str, ...]
    nouns: tuple[str, ...]
    fact: str
    query: str


#: filler templates a lecturer says about any topic ({a}, {b}: two of the topic's nouns)
FILLERS: tuple[str, ...] = (
    "Let us look more closely at the {a} and the {b}.",
    "The {a} matters more than most people think.",
    "Here you can see how the {a} depends on the {b}.",
    "Many beginners forget about the {b}.",
    "A good {a} always needs a careful {b}.",
    "Remember that the {b} changes over time.",
    "So the {a} and the {b} work together.",
)

TOPICS: tuple[Topic, ...] = (
    Topic(
        "volcanoes",
        "Volcanoes",
        (
            "Volcanoes erupt when magma rises through the crust.",
            "Lava flows glow red as they pour down the mountain.",
            "Ash clouds from an eruption can ground airplanes for days.",
            "Geologists measure gas from the crater to predict eruptions.",
            "Some volcanoes sleep for thousands of years before they wake.",
            "Hot springs and geysers are heated by magma underground.",
        ),
        ("magma", "lava", "crater", "eruption", "ash cloud", "volcano"),
        "A lava flow once buried a whole town at the foot of the volcano.",
        "a settlement was engulfed by molten rock",
    ),
    Topic(
        "bread",
        "Baking Bread",
        (
            "To bake bread you need flour, water, yeast and salt.",
            "Knead the dough until it feels smooth and elastic.",
            "The yeast makes the dough rise in a warm kitchen.",
            "Bake the loaf in a hot oven until the crust is brown.",
            "Sourdough uses a starter instead of dry yeast.",
            "Let the bread cool before you slice it.",
        ),
        ("dough", "flour", "yeast", "oven", "loaf", "crust"),
        "The baker leaves the dough in the fridge overnight for more flavour.",
        "chilling the mixture till morning improves its savour",
    ),
    Topic(
        "chess",
        "Chess Openings",
        (
            "In chess the queen is the most powerful piece.",
            "Control the center of the board with your pawns.",
            "Castling moves the king to safety early in the game.",
            "A knight jumps in the shape of the letter L.",
            "Checkmate ends the game when the king cannot escape.",
            "Grandmasters study openings for many years.",
        ),
        ("pawn", "knight", "bishop", "king", "board", "opening"),
        "A bishop can only ever stand on squares of one colour.",
        "the diagonal mover is stuck on one shade of tile for the entire match",
    ),
    Topic(
        "bees",
        "Honey Bees",
        (
            "Honey bees dance to tell the hive where flowers are.",
            "A queen bee lays thousands of eggs every day.",
            "Worker bees collect nectar and pollen from blossoms.",
            "The beekeeper wears a veil to avoid stings.",
            "Bees turn nectar into honey inside the wax comb.",
            "Without bees many fruit trees would not be pollinated.",
        ),
        ("hive", "nectar", "pollen", "honeycomb", "beekeeper", "queen bee"),
        "Bees flap their wings to cool the hive on hot summer days.",
        "insects fan the colony so it does not overheat",
    ),
    Topic(
        "bicycles",
        "Bicycle Repair",
        (
            "Check your bicycle tires and brakes before every ride.",
            "Oil the chain every few weeks to stop it rusting.",
            "A flat tire is fixed by patching the inner tube.",
            "Adjust the saddle so your leg is almost straight.",
            "The gears let you climb hills without much effort.",
            "Always wear a helmet when you cycle in traffic.",
        ),
        ("chain", "tire", "brake", "saddle", "gear", "handlebar"),
        "Squeaky brakes usually mean the pads are worn down.",
        "a screeching noise when stopping shows the rubber is used up",
    ),
    Topic(
        "moon",
        "The Moon",
        (
            "The moon has no air and no weather.",
            "Astronauts first walked on the moon in nineteen sixty nine.",
            "The same side of the moon always faces the earth.",
            "Craters on the moon were made by falling meteorites.",
            "The pull of the moon causes the ocean tides.",
            "A full moon happens about once every month.",
        ),
        ("moon", "crater", "astronaut", "orbit", "tide", "lunar surface"),
        "Footprints left by the astronauts will stay there for millions of years.",
        "marks from boots on the satellite last nearly forever",
    ),
    Topic(
        "coffee",
        "Coffee Roasting",
        (
            "Coffee beans are roasted to bring out their flavour.",
            "Espresso is brewed by forcing hot water under high pressure.",
            "Light roasts taste fruity and dark roasts taste bitter.",
            "Grind the beans just before you brew them.",
            "Coffee plants grow best on cool tropical mountains.",
            "A barista steams milk for a cappuccino.",
        ),
        ("bean", "roast", "espresso", "grinder", "barista", "cup"),
        "Too much caffeine late in the day can keep you from falling asleep.",
        "a stimulant drink in the evening leads to insomnia",
    ),
    Topic(
        "sharks",
        "Sharks",
        (
            "Sharks have lived in the oceans for millions of years.",
            "A shark can smell a drop of blood from far away.",
            "Sharks lose and replace thousands of teeth in a lifetime.",
            "The whale shark is the largest fish in the sea.",
            "Most sharks must keep swimming to breathe.",
            "Fishing nets kill many sharks every year.",
        ),
        ("shark", "fin", "teeth", "ocean", "reef", "gills"),
        "Divers stay inside steel cages to watch the great white safely.",
        "scuba explorers observe the predator from behind protective metal bars",
    ),
    Topic(
        "taxes",
        "Income Taxes",
        (
            "File your income tax return before the deadline.",
            "Keep every receipt for your deductions.",
            "Your employer withholds tax from each paycheck.",
            "Charitable donations can lower the tax you owe.",
            "An accountant can check your forms for mistakes.",
            "Late payments add interest and penalties.",
        ),
        ("tax return", "receipt", "deduction", "accountant", "paycheck", "form"),
        "If you paid too much during the year the government sends a refund.",
        "overpaying the state means getting money back",
    ),
    Topic(
        "guitar",
        "Learning Guitar",
        (
            "A guitar usually has six strings.",
            "Practice chords slowly before you play fast.",
            "Tune the guitar before every practice session.",
            "Calluses on your fingertips make playing easier.",
            "A capo raises the pitch of every string.",
            "Strumming patterns give a song its rhythm.",
        ),
        ("string", "chord", "fret", "capo", "pick", "amplifier"),
        "Pressing the strings hard hurts your fingers for the first few weeks.",
        "novices feel aching hands when starting the instrument",
    ),
    Topic(
        "rainforest",
        "Rainforests",
        (
            "Rainforests hold more than half of the world's species.",
            "It rains almost every afternoon in the rainforest.",
            "Tall trees form a canopy high above the forest floor.",
            "Logging destroys large areas of rainforest every year.",
            "Many medicines come from rainforest plants.",
            "Monkeys and parrots live in the canopy.",
        ),
        ("canopy", "jungle", "tree", "species", "river", "rainforest"),
        "Very little sunlight reaches the ground under the dense leaves.",
        "hardly any daylight gets through the thick foliage to the soil",
    ),
    Topic(
        "sleep",
        "Healthy Sleep",
        (
            "Adults need about eight hours of sleep each night.",
            "Screens before bed keep your brain awake.",
            "Dreams happen mostly during rapid eye movement sleep.",
            "Go to bed at the same time every night.",
            "A cool dark bedroom helps you sleep deeply.",
            "Naps longer than half an hour leave you groggy.",
        ),
        ("sleep", "bedroom", "dream", "pillow", "nap", "alarm clock"),
        "Snoring loudly can be a sign that breathing stops during the night.",
        "loud nocturnal wheezing can indicate that the airway pauses",
    ),
    Topic(
        "pyramids",
        "The Pyramids",
        (
            "The pyramids of Egypt were built as tombs for pharaohs.",
            "Workers moved huge stone blocks on wooden sledges.",
            "The great pyramid was the tallest building for centuries.",
            "Treasure was buried with the pharaoh inside the tomb.",
            "The sphinx guards the pyramids at Giza.",
            "Archaeologists still find hidden chambers today.",
        ),
        ("pyramid", "pharaoh", "tomb", "stone block", "sphinx", "chamber"),
        "Robbers emptied most of the royal tombs long ago.",
        "burglars plundered the graves of ancient monarchs",
    ),
    Topic(
        "recycling",
        "Recycling",
        (
            "Rinse plastic bottles before you recycle them.",
            "Glass can be melted and recycled again and again.",
            "Paper fibres get shorter each time they are recycled.",
            "Food waste belongs in the compost bin.",
            "Aluminium cans save a lot of energy when recycled.",
            "Sort your rubbish into the right containers.",
        ),
        ("bottle", "can", "bin", "compost", "rubbish", "plastic"),
        "Old phones contain gold that can be recovered from the circuit boards.",
        "precious metal is reclaimed from discarded mobile devices",
    ),
)

#: a second paraphrase of each topic's fact, also in words the talk never says: written before
#: ``locate`` was tuned on the topics' own queries and never used while tuning (the held-out check
#: of ``benchmarks/locate.py``)
HELD_OUT_QUERIES: dict[str, str] = {
    "volcanoes": "an entire village vanished beneath glowing molten rock",
    "bread": "refrigerating the raw mix till dawn gives it a richer savour",
    "chess": "the slantwise mover never switches the hue of its tile",
    "bees": "buzzing insects produce a breeze so their colony stays chilly in July",
    "bicycles": "a shrill squeal while halting signals that the friction rubber has thinned",
    "moon": "boot marks on that grey satellite should remain for ages",
    "coffee": "a stimulating drink after dinner may ruin a person's slumber",
    "sharks": "scuba swimmers observe the big predator from within metal enclosures",
    "taxes": "extra money handed to the authorities is returned afterwards",
    "guitar": "novices get sore hands from gripping the wires firmly",
    "rainforest": "the woodland bottom stays dim since thick foliage shades it",
    "sleep": "heavy nocturnal wheezing may signal pauses in respiration",
    "pyramids": "thieves looted the burial vaults of ancient monarchs ages back",
    "recycling": "discarded handsets harbour precious metal worth extracting",
}
