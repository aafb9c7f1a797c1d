"""Generate the demo's source database, data/shop.sqlite, deterministically (same bytes of data every time).

A small web shop: customers in four regions, products in four categories, and orders over
the first half of 2026 with decimal prices, timestamps and statuses. Run it from anywhere:

    python configs/data/make_shop_db.py            # rewrites configs/data/shop.sqlite
"""

from __future__ import annotations

import random
import sqlite3
import sys
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
REGIONS = ["North", "South", "East", "West"]
CATEGORIES = {"Coffee": (8, 25), "Tea": (4, 15), "Equipment": (30, 250), "Accessories": (5, 40)}
FIRST = ["Alice", "Bob", "Chloe", "David", "Eva", "Filip", "Greta", "Hugo", "Ines", "Jan", "Klara", "Lukas",
         "Marta", "Nikola", "Olga", "Petr", "Rosa", "Simon", "Tereza", "Viktor"]
LAST = ["Novak", "Svoboda", "Dvorak", "Cerny", "Prochazka", "Kucera", "Vesely", "Horak", "Nemec", "Marek"]


def build(path: Path) -> None:
    rng = random.Random(20260101)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    db = sqlite3.connect(tmp)
    db.executescript("""
        CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL,
                                region TEXT NOT NULL, created_at TIMESTAMP NOT NULL);
        CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT NOT NULL, category TEXT NOT NULL,
                               price NUMERIC(10, 2) NOT NULL, active BOOLEAN NOT NULL);
        CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id),
                             product_id INTEGER NOT NULL REFERENCES products(id), quantity INTEGER NOT NULL,
                             unit_price NUMERIC(10, 2) NOT NULL, status TEXT NOT NULL,
                             ordered_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL);
    """)
    start = datetime(2026, 1, 1, 8, 0, 0)
    customers = []
    for cid in range(1, 61):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        created = start - timedelta(days=rng.randint(30, 700))
        customers.append((cid, f"{first} {last}", f"{first.lower()}.{last.lower()}{cid}@example.com",
                          rng.choice(REGIONS), created.isoformat(sep=" ")))
    db.executemany("INSERT INTO customers VALUES (?, ?, ?, ?, ?)", customers)
    products = []
    for pid in range(1, 25):
        category = list(CATEGORIES)[pid % 4]
        low, high = CATEGORIES[category]
        price = Decimal(rng.randint(low * 100, high * 100)) / 100
        products.append((pid, f"{category} item {pid:02d}", category, str(price), int(pid % 7 != 0)))
    db.executemany("INSERT INTO products VALUES (?, ?, ?, ?, ?)", products)
    orders = []
    for oid in range(1, 481):
        product = rng.choice(products)
        ordered = start + timedelta(minutes=rng.randint(0, 181 * 24 * 60))
        status = rng.choices(["delivered", "shipped", "cancelled"], weights=[80, 15, 5])[0]
        updated = ordered + timedelta(hours=rng.randint(1, 96))
        orders.append((oid, rng.randint(1, 60), product[0], rng.randint(1, 5), product[3], status,
                       ordered.isoformat(sep=" "), updated.isoformat(sep=" ")))
    db.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?, ?)", orders)
    db.commit()
    db.execute("VACUUM")
    db.close()
    tmp.replace(path)


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "shop.sqlite"
    build(target)
    print(f"wrote {target}")
