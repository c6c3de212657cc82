"""The demo catalog: (product_id, name, description, price in euro cents, units in stock)."""

from __future__ import annotations

SeedProduct = tuple[str, str, str, int, int]

CATALOG: list[SeedProduct] = [
    # Coffee & tea
    (
        "coffee-ethiopia-yirgacheffe-250g",
        "Ethiopia Yirgacheffe, whole bean, 250 g",
        "Washed single origin with notes of jasmine, bergamot and lemon; light roast.",
        1490,
        120,
    ),
    (
        "coffee-colombia-huila-1kg",
        "Colombia Huila, whole bean, 1 kg",
        "Balanced medium roast with caramel sweetness and red apple acidity.",
        3450,
        45,
    ),
    (
        "coffee-espresso-blend-500g",
        "House espresso blend, 500 g",
        "Brazil and Guatemala blend for milk drinks; chocolate and hazelnut.",
        1690,
        80,
    ),
    (
        "tea-sencha-100g",
        "Japanese sencha, loose leaf, 100 g",
        "First flush green tea from Shizuoka; steep at 70 °C for one minute.",
        990,
        60,
    ),
    ("tea-earl-grey-tin", "Earl Grey tea, tin of 125 g", "Ceylon black tea scented with natural bergamot oil.", 850, 4),
    (
        "coffee-decaf-swiss-water-250g",
        "Decaf Peru, Swiss Water process, 250 g",
        "Chemical-free decaffeinated; milk chocolate and almond.",
        1390,
        0,
    ),
    # Brewing gear
    (
        "grinder-burr-manual",
        "Manual burr grinder",
        "Stainless conical burrs, 40 click settings, grinds 20 g in under a minute.",
        8900,
        12,
    ),
    (
        "kettle-gooseneck-electric",
        "Electric gooseneck kettle, 0.9 l",
        "Temperature control to the degree, keep-warm mode, precise pour spout.",
        11900,
        7,
    ),
    (
        "dripper-ceramic-v60",
        "Ceramic cone dripper, size 02",
        "Spiral ribs and a single large hole for fast, clean pour-over brews.",
        2490,
        35,
    ),
    (
        "filters-paper-100",
        "Paper filters, size 02, pack of 100",
        "Oxygen-bleached, rinsed free of paper taste.",
        590,
        300,
    ),
    ("press-french-1l", "French press, 1 l", "Borosilicate glass carafe with a stainless four-layer filter.", 3490, 22),
    (
        "scale-coffee-timer",
        "Coffee scale with timer",
        "0.1 g resolution up to 2 kg, auto-start timer, USB-C rechargeable.",
        4990,
        3,
    ),
    (
        "espresso-tamper-58mm",
        "Espresso tamper, 58 mm",
        "Flat stainless base, walnut handle, calibrated 15 kg spring.",
        3990,
        0,
    ),
    # Kitchen
    (
        "knife-chef-20cm",
        "Chef's knife, 20 cm",
        "Forged molybdenum steel, full tang, hand-sharpened 15° edge.",
        7900,
        18,
    ),
    (
        "board-walnut-large",
        "Walnut end-grain cutting board",
        "45 x 30 cm, finished with food-safe mineral oil and beeswax.",
        8500,
        9,
    ),
    ("pan-cast-iron-26cm", "Cast-iron skillet, 26 cm", "Pre-seasoned, oven safe, works on induction.", 4490, 25),
    (
        "dutch-oven-enamel-5l",
        "Enamelled Dutch oven, 5 l",
        "Cast iron with a cream enamel interior, lid with self-basting studs.",
        12900,
        6,
    ),
    (
        "spatula-silicone-set",
        "Silicone spatula set of 3",
        "Heat resistant to 260 °C, seamless one-piece design.",
        1490,
        140,
    ),
    ("towels-linen-2", "Linen tea towels, set of 2", "Stonewashed European linen, lint-free on glass.", 1990, 2),
    # Home & living
    (
        "candle-soy-cedar",
        "Soy candle, cedar and vetiver",
        "Hand-poured in a reusable amber jar, about 45 hours of burn time.",
        2400,
        50,
    ),
    ("blanket-wool-throw", "Merino wool throw, 130 x 170 cm", "Herringbone weave, woven in Portugal.", 9900, 14),
    (
        "mug-stoneware-350ml",
        "Stoneware mug, 350 ml",
        "Reactive speckled glaze, dishwasher and microwave safe.",
        1800,
        90,
    ),
    ("vase-glass-recycled", "Recycled glass vase", "Mouth-blown from recycled bottle glass, 22 cm high.", 3200, 11),
    (
        "lamp-desk-brass",
        "Brass desk lamp",
        "Adjustable arm, E27 socket, fabric cable, dimmable with a warm LED bulb.",
        14900,
        1,
    ),
    (
        "plant-pot-terracotta-20cm",
        "Terracotta plant pot, 20 cm",
        "Unglazed clay with a drainage hole and a matching saucer.",
        1500,
        75,
    ),
    # Stationery
    ("notebook-a5-dotted", "A5 dotted notebook", "192 numbered pages of 100 g/m² paper, lay-flat binding.", 1650, 200),
    (
        "pen-fountain-steel-nib",
        "Fountain pen, fine steel nib",
        "Aluminium body, converter and two ink cartridges included.",
        3900,
        16,
    ),
    (
        "ink-bottle-blue-black",
        "Fountain pen ink, blue-black, 50 ml",
        "Water-resistant iron-gall-free formula.",
        1290,
        40,
    ),
    ("planner-weekly-2027", "Weekly planner 2027", "Linen cover, week on two pages, monthly overviews.", 2490, 5),
    ("pencil-graphite-set", "Graphite pencil set of 12", "Grades 6H to 8B in a tin case.", 1190, 65),
    # Outdoor
    (
        "bottle-insulated-750ml",
        "Insulated bottle, 750 ml",
        "Double-wall stainless steel, keeps drinks cold for 24 hours.",
        2990,
        110,
    ),
    ("backpack-daypack-20l", "Daypack, 20 l", "Recycled nylon, padded laptop sleeve, water-repellent finish.", 7900, 0),
    ("headlamp-rechargeable", "Rechargeable headlamp, 400 lm", "Red night mode, IPX4, USB-C charging.", 3990, 28),
    (
        "mug-enamel-camping",
        "Enamel camping mug, 300 ml",
        "Steel with a white enamel coating and a rolled rim.",
        1400,
        3,
    ),
]
