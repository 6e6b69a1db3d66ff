"""What the demo store sells and what its customers write.

Plain data for generator.py: names, a product catalogue, carriers, and message templates
per intent, written the way real shoppers and agents write. Templates use str.format
fields only (never Jinja), filled from the generated order.
"""

from __future__ import annotations

FIRST_NAMES = (
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Oliver", "Sophia", "Elijah", "Isabella", "James", "Mia", "Lucas",
    "Amelia", "Mason", "Harper", "Ethan", "Evelyn", "Logan", "Abigail", "Aiden", "Emily", "Jackson", "Ella",
    "Sebastian", "Scarlett", "Mateo", "Grace", "Henry", "Chloe", "Leo", "Camila", "Daniel", "Priya", "Arjun",
    "Yuki", "Hiro", "Fatima", "Omar", "Chiara", "Luca", "Ingrid", "Lars", "Zoë", "Renée", "José", "Søren",
    "Aisha", "Kwame", "Mei", "Wei", "Nadia", "Tomás", "Freya", "Finn", "Hannah", "Jonas", "Léa", "Hugo",
)
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee",
    "Thompson", "White", "Harris", "Clark", "Lewis", "Walker", "Young", "Allen", "King", "Wright", "Patel",
    "Nakamura", "Okafor", "Rossi", "Müller", "Schmidt", "Dubois", "Lefèvre", "Nielsen", "O'Brien", "Kowalski",
    "Novak", "Haddad", "Chen", "Wang", "Kim", "Nguyen", "Silva", "Costa", "Andersson", "Johansson", "Murphy",
)
EMAIL_DOMAINS = ("gmail.com", "outlook.com", "yahoo.com", "icloud.com", "proton.me", "fastmail.com", "hey.com")

# (country, city, currency, locale, weight)
REGIONS = (
    ("US", "Portland, OR", "USD", "en_US", 20), ("US", "Austin, TX", "USD", "en_US", 14),
    ("US", "Chicago, IL", "USD", "en_US", 12), ("US", "Brooklyn, NY", "USD", "en_US", 12),
    ("CA", "Toronto, ON", "CAD", "en_CA", 6), ("GB", "Manchester", "GBP", "en_GB", 8),
    ("GB", "London", "GBP", "en_GB", 8), ("DE", "Berlin", "EUR", "de_DE", 6), ("FR", "Lyon", "EUR", "fr_FR", 4),
    ("NL", "Utrecht", "EUR", "nl_NL", 3), ("AU", "Melbourne", "AUD", "en_AU", 4), ("IE", "Dublin", "EUR", "en_IE", 3),
)
STREETS = ("Maple Ave", "Oak St", "Elm Road", "Harbour Lane", "King Street", "Birch Way", "Mill Road", "Station Rd")

AGENTS = (
    # (name, email, role)
    ("Alex Rivera", "alex@northwind-outfitters.example", "agent"),
    ("Sam Okoye", "sam@northwind-outfitters.example", "agent"),
    ("Priya Shah", "priya@northwind-outfitters.example", "agent"),
    ("Marco Bianchi", "marco@northwind-outfitters.example", "agent"),
    ("Hana Sato", "hana@northwind-outfitters.example", "agent"),
    ("Jordan Lee", "jordan@northwind-outfitters.example", "agent"),
    ("Elena Petrova", "elena@northwind-outfitters.example", "agent"),
    ("Dana Whitfield", "dana@northwind-outfitters.example", "lead"),
)
ME = AGENTS[0]
AGENT_LOAD = (14, 22, 12, 10, 9, 8, 6, 2)
"""Relative share of assigned tickets per agent: Sam carries too much, as someone always does."""

# (sku, title, price in minor units, variants kind, category)
PRODUCTS = (
    ("NW-MCS", "Merino Crew Sweater", 8900, "apparel", "knitwear"),
    ("NW-FLJ", "Flannel Lined Jacket", 14900, "apparel", "outerwear"),
    ("NW-RPT", "Ripstop Trail Pants", 7400, "apparel", "bottoms"),
    ("NW-CTT", "Organic Cotton Tee", 2800, "apparel", "tops"),
    ("NW-WBP", "Waxed Canvas Backpack", 12900, "color", "bags"),
    ("NW-WDB", "Wool Beanie", 2400, "color", "accessories"),
    ("NW-HKB", "Leather Hiking Boots", 18900, "shoe", "footwear"),
    ("NW-TRS", "Trail Running Shoes", 12400, "shoe", "footwear"),
    ("NW-IMB", "Insulated Mug 16 oz", 3200, "color", "kitchen"),
    ("NW-CBL", "Camp Blanket", 6900, "color", "home"),
    ("NW-RPC", "Rain Poncho", 4500, "apparel", "outerwear"),
    ("NW-SKS", "Merino Hiking Socks (3 pack)", 3600, "sock", "accessories"),
    ("NW-DFB", "Down Fill Vest", 11900, "apparel", "outerwear"),
    ("NW-LTL", "Headlamp 400 lm", 3900, None, "gear"),
    ("NW-SPK", "Stainless Pour-Over Kit", 5400, None, "kitchen"),
)
SIZES = {"apparel": ("XS", "S", "M", "L", "XL", "XXL"), "shoe": ("7", "8", "9", "10", "11", "12"),
         "sock": ("S/M", "L/XL"), "color": ("Forest", "Charcoal", "Rust", "Navy", "Sand")}
COLORS = ("Forest", "Charcoal", "Rust", "Navy", "Sand", "Oat")

# (carrier, tracking URL template)
CARRIERS = (
    ("UPS", "https://www.ups.com/track?tracknum={number}"),
    ("USPS", "https://tools.usps.com/go/TrackConfirmAction?tLabels={number}"),
    ("FedEx", "https://www.fedex.com/fedextrack/?trknbr={number}"),
    ("DHL", "https://www.dhl.com/en/express/tracking.html?AWB={number}"),
)
GATEWAYS = ("shopify_payments", "paypal", "stripe", "apple_pay")
CHANNELS = ("email", "email", "email", "web", "chat", "social")

# intent: (weight, tags, default priority 1..4)
INTENTS = {
    "wismo": (24, ("wismo",), 2),
    "damaged": (9, ("damaged",), 3),
    "wrong_item": (7, ("wrong-item",), 3),
    "size_exchange": (10, ("exchange", "sizing"), 2),
    "return_request": (12, ("return",), 2),
    "refund_request": (9, ("refund",), 2),
    "cancel": (6, ("cancel",), 4),
    "address_change": (6, ("address-change",), 3),
    "discount_code": (6, ("discount",), 1),
    "product_question": (8, ("pre-sale",), 1),
    "spam": (3, ("spam",), 1),
}

SUBJECTS = {
    "wismo": (
        "Where is my order #{order}?", "Order #{order} still not delivered", "Tracking hasn't updated in {days} days",
        "Has my order shipped yet?", "Package #{order} — any update?", "{product} hasn't arrived",
        "WISMO: order {order}", "Delivery status for #{order}",
    ),
    "damaged": (
        "{product} arrived damaged", "Broken item in order #{order}", "Damaged package — #{order}",
        "My {product} came torn", "Item arrived in bad shape",
    ),
    "wrong_item": (
        "Wrong item received in order #{order}", "I got the wrong {product}", "Received {other_color} instead of {color}",
        "This isn't what I ordered (#{order})",
    ),
    "size_exchange": (
        "Exchange {product} for a size {other_size}", "Size exchange for order #{order}", "{product} too small — can I swap?",
        "Need a different size", "Swap size {size} → {other_size}",
    ),
    "return_request": (
        "Return request for order #{order}", "How do I return the {product}?", "Return label please (#{order})",
        "I'd like to send back my {product}", "Returning part of order #{order}",
    ),
    "refund_request": (
        "Refund for order #{order}", "Still waiting on my refund", "Where is my refund? #{order}",
        "Please refund the {product}", "Refund not received yet",
    ),
    "cancel": (
        "Cancel order #{order} please", "URGENT: please cancel my order", "Cancel before it ships — #{order}",
        "Ordered by mistake, cancel #{order}",
    ),
    "address_change": (
        "Change shipping address for #{order}", "Wrong address on my order", "Update delivery address (order {order})",
        "Moved — can you change where #{order} goes?",
    ),
    "discount_code": (
        "Discount code {code} not working", "Promo code rejected at checkout", "Forgot to apply my code to #{order}",
        "Newsletter code says expired",
    ),
    "product_question": (
        "Question about the {product}", "Is the {product} true to size?", "Does the {product} come in {other_color}?",
        "{product} — waterproof?", "Restock date for {product} in {size}?",
    ),
    "spam": (
        "Boost your store's SEO ranking today", "Guest post opportunity for northwind-outfitters",
        "Partnership: 10x your Instagram followers", "Invoice #{order} overdue (action required)",
        "Wholesale LED lights — factory price", "Your domain listing expires soon",
    ),
}

OPENERS = {
    "wismo": (
        "Hi, I ordered the {product} on {order_date} (order #{order}) and it still hasn't arrived. The tracking "
        "number {tracking} hasn't moved in {days} days. Can you check what's going on?",
        "Hello — my order #{order} was supposed to arrive by now. Could you tell me where it is? I need the "
        "{product} for a trip next week.",
        "Hey there, any news on order {order}? I haven't received a shipping confirmation yet.",
        "Hi team, the {carrier} tracking for my order says 'label created' since {order_date}. Is it actually on "
        "its way?\n\nThanks,\n{first}",
    ),
    "damaged": (
        "Hi, my {product} from order #{order} arrived today and the {damage}. The box was crushed on one corner. "
        "What can you do?",
        "Hello, unfortunately the {product} arrived damaged — the {damage}. I'd like a replacement if possible.",
        "The {product} I received is damaged ({damage}). Order #{order}. Really disappointed, it was a gift.",
    ),
    "wrong_item": (
        "Hi, I ordered the {product} in {color} (order #{order}) but received {other_color}. Can you send the "
        "right one?",
        "Hello, the package for order #{order} contained a {wrong_product} instead of the {product} I ordered.",
    ),
    "size_exchange": (
        "Hi! The {product} (size {size}) from order #{order} is a bit too small. Could I exchange it for a "
        "{other_size}?",
        "Hello, I love the {product} but the {size} doesn't fit. Is an exchange for {other_size} possible?",
        "Can I swap my {product} from a {size} to a {other_size}? Tags are still on. Order #{order}.",
    ),
    "return_request": (
        "Hi, I'd like to return the {product} from order #{order}. It doesn't suit me. How do I get a return "
        "label?",
        "Hello, I want to send back part of order #{order} (the {product}). Is it still within the return "
        "window?",
        "Return please — {product}, order {order}. Unworn, in the original packaging.",
    ),
    "refund_request": (
        "Hi, I returned the {product} from order #{order} two weeks ago and still haven't seen a refund. Can "
        "you check?",
        "Hello, could you refund the {product} on order #{order}? It never arrived and I've given up waiting.",
        "I was charged for the {product} but it was out of stock and never shipped. Please refund order "
        "#{order}.",
    ),
    "cancel": (
        "Hi, I placed order #{order} about an hour ago by mistake. Please cancel it before it ships!",
        "Please cancel my order #{order} — I ordered the wrong size and will reorder.",
        "Can you cancel order {order}? I found out I don't need it anymore. Thanks!",
    ),
    "address_change": (
        "Hi, I just realised order #{order} is going to my old address. Could you change it to {new_address}?",
        "Hello, please update the shipping address on #{order} to {new_address}. I moved last week.",
    ),
    "discount_code": (
        "Hi, I tried to use the code {code} from your newsletter but checkout says it's invalid.",
        "Hello, I forgot to apply my {code} discount to order #{order}. Could you refund the difference?",
        "The code {code} says it has expired but the email said it's valid until the end of the month.",
    ),
    "product_question": (
        "Hi, does the {product} run true to size? I'm usually a {size} in most brands.",
        "Hello, is the {product} waterproof or just water resistant? Planning a trip to Scotland.",
        "Will the {product} be back in stock in {size} soon? It's been sold out for weeks.",
        "Hi — does the {product} come in {other_color}? I only see {color} on the site.",
    ),
    "spam": (
        "Dear Store Owner,\n\nWe noticed your website is not ranking on the first page of Google. Our team of "
        "experts can fix that for just $99/month. Reply YES to get started!!!",
        "Hello, I'm reaching out about a guest post on your blog. We pay $50 per dofollow link. Interested?",
        "Your invoice is overdue. Click here to avoid suspension: http://pay-invoice.example/login",
    ),
}

FOLLOWUPS = {
    "customer": (
        "Thanks for getting back to me. Any update?",
        "Hi again — just checking in on this.",
        "I've attached the photos you asked for. Let me know if you need anything else.",
        "That works for me, thank you!",
        "Still nothing on my end. This is getting frustrating.",
        "Sorry for the delay — here's the info you asked for. The box was left on the porch.",
        "OK, I've dropped the parcel off at the post office. Tracking says it's on its way back.",
        "Great, thanks so much for the quick help!",
    ),
    "agent": (
        "Hi {first},\n\nThanks for reaching out. I've looked into order #{order} and I'm on it — I'll update "
        "you within a day.\n\nBest,\n{agent}",
        "Hi {first},\n\nSorry about that! Could you send a photo of the {product} and the packaging? That lets me "
        "get a replacement out right away.\n\n{agent}",
        "Hi {first},\n\nYour order shipped with {carrier}, tracking {tracking}. It should be with you in 2–3 "
        "business days.\n\nCheers,\n{agent}",
        "Hi {first},\n\nI've emailed you a prepaid return label. Once the parcel is scanned we'll process the "
        "refund within 5 business days.\n\n{agent}",
        "Hi {first},\n\nAll done — let me know if there's anything else I can help with.\n\n{agent}",
        "Hi {first},\n\nJust following up: did the {product} arrive OK?\n\n{agent}",
    ),
    "note": (
        "Checked the warehouse system: parcel left the DC on time, looks stuck at the {carrier} hub.",
        "Customer is a repeat buyer (5+ orders). OK to waive return shipping.",
        "Photos received, damage confirmed. Approving replacement.",
        "Escalated to Dana for a refund above my limit.",
        "Stock check: {product} in {other_size} available, 14 units.",
        "Possible duplicate of an earlier ticket from the same customer.",
    ),
}

DAMAGE = ("seam on the left sleeve is split", "zipper is broken", "lid is cracked", "sole is coming off",
          "strap is torn", "glass is shattered", "fabric has a big stain")
DISCOUNT_CODES = ("WELCOME10", "SPRING20", "FREESHIP", "NEWS15", "VIP25")
