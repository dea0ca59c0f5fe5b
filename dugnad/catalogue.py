"""The activity catalogue every municipality starts with (from the domain notes).

Municipalities rename, hide and add entries; these are only the seed.
"""

DEFAULT_ACTIVITY_AREAS = (
    "Flyktningguide / flyktningvenn",
    "Språkkafé / norsktrening",
    "Leksehjelp",
    "Idrett",
    "Friluftsliv / turgrupper",
    "Kultur (korps, kor, musikk, kunst)",
    "Utlån av utstyr (BUA)",
    "Velkomstarrangement og møteplasser",
    "Barn og familie (lekekafé, ferieaktiviteter)",
    "Ungdom",
    "Svømmeopplæring",
    "Arbeidstrening og mentorordning",
    "Informasjon og veiledning",
    "Beredskap og mottak",
    "Annet",
)
