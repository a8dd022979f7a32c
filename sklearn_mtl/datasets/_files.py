"""The files of every real data set: names, checksums and upstream sources.

Checksums are copied from each data set's README; they are part of the package
and every file is checked against them before it is parsed.
"""

from types import MappingProxyType

from ._home import _DataFile, _Upstream

# ---------------------------------------------------------------------------
# Mulan multi-target regression benchmark
# ---------------------------------------------------------------------------

#: name -> (file in ``<data_home>/<name>/``, number of targets, sha256 of the
#: file). The last ``n_targets`` ARFF attributes are the targets.
MULAN_DATASETS = MappingProxyType(
    {
        "andro": (
            "andro.arff",
            6,
            "08f0e2757b2a7635136ac58ea76c4e801ffeb0a81116b29e6ac169228c8aa132",
        ),
        "atp1d": (
            "atp1d.arff.gz",
            6,
            "f5cb3253d8d2f09babe6c19419f4c9cdbdecf752001d120b42d2033a148d5b5d",
        ),
        "atp7d": (
            "atp7d.arff",
            6,
            "77d59efdf4a6329c71c854684de7409d0d61d3bebccd6821ae268c1620c95b2d",
        ),
        "edm": (
            "edm.arff",
            2,
            "37777374030f592a53cbcf597ae0aa6105238a1c696dd04ccb229be982f6bc5b",
        ),
        "enb": (
            "enb.arff",
            2,
            "8277d9094ccda6da2cd1c2b79c90ca201fa3695e75aca173ffc43138dcab0071",
        ),
        "jura": (
            "jura.arff",
            3,
            "78ce7655f49073e3622ef7ba25657b3900a2b279ba3d48cb82e353e56bac3d2a",
        ),
        "oes10": (
            "oes10.arff",
            16,
            "37f9fa429f6f2ece2cdfd08e84649971e61ee0b4e75d66166c082bacf3d36251",
        ),
        "oes97": (
            "oes97.arff",
            16,
            "aee74aa656c709f797f45d817c41996be94c2e924c0f1e7ad315fb7e2f1a9498",
        ),
        "osales": (
            "osales.arff",
            12,
            "c9c656c7e0131ad1c3f427cea7828f2ed315ec80da6d6f43c05b40b87257efe5",
        ),
        "scpf": (
            "scpf.arff",
            3,
            "f7d3c7b134c0e5ddff56a7900371cb44328f9b7f550203c4a556929203ea81e9",
        ),
        "sf1": (
            "sf1.arff",
            3,
            "8f78e64aca64f7c0c7ba4d9b2f114feb2a6f72e6116e87d7dab94e7cab426d93",
        ),
        "sf2": (
            "sf2.arff",
            3,
            "2c1ac60f3e612b0e0bc9884ffe98a205ce07ca83f3f89c019220fde350396795",
        ),
        "slump": (
            "slump.arff",
            3,
            "3a9a9eba416b06c7668153b44073a0e165afbfc9e526d53b174e5f97a707ca6c",
        ),
        "wq": (
            "wq.arff",
            14,
            "4a0906b4a51bf52c986790ddaf261ba51faa3da9cffe823badabd88d38d252fe",
        ),
        "rf1": (
            "rf1.arff.gz",
            8,
            "5266bb550dcb054b52433448688d5398ce384d0ab4167fa987b8c76fe0b2e578",
        ),
        "scm20d": (
            "scm20d.arff.gz",
            16,
            "517d1d84519ecd86fb3f7cf5d5723e4c8fdf77fa5cbd36c3ae6d6754d4ac512a",
        ),
    }
)

_MULAN_REPO = "tsoumakas/mulan"
_MULAN_COMMIT = "43f6389095ad71984264db4387a8074b22bc7d4a"
_PCP_REPO = "Zhendong-Wang/Probabilistic-Conformal-Prediction"

# Where each Mulan file comes from (git blob SHA-1 of the upstream, uncompressed
# file, from the data set's README).
_MULAN_UPSTREAM = {
    name: _Upstream(_MULAN_REPO, _MULAN_COMMIT, f"data/multi-target/{name}.arff", blob)
    for name, blob in {
        "andro": "01f9e1871b6be20fccbb2d4ad43a2b1dc4095020",
        "atp1d": "9ce922d1daf2acad0a0ad7a3d70870486d65e75b",
        "atp7d": "cad2d63a81f99ed04e4bfba41daabc29353e14b8",
        "edm": "8faba7dd6c3fae30ea0a68fa345d4ea6ecb82a09",
        "enb": "bbcbce7293370c99c1369b16a9e2cce93fcc443e",
        "jura": "8c09f3a03d226daaea82630f4c3094feb14901d6",
        "oes10": "dc2991d2a435b808f1c698f96dcb18ab8260f164",
        "oes97": "64a122291f1af06ae55e4bced1e6374e039debba",
        "osales": "48bc72fbd3bc9d64b7fb4866634581a72e479910",
        "scpf": "c862c5abeb491add747276a58cb862d4d1b33094",
        "sf1": "0a530e713597269ef4eeb8296a697d2bffd5209c",
        "sf2": "2f3a9e6bb1a77148f01b4d29f3e97ca10315eccd",
        "slump": "35c18e9833f7d528887d95ce4734c2c37f8d0bd3",
        "wq": "2dbc3ee32d87a1618721b86a1ef9857516cbb970",
    }.items()
}
_MULAN_UPSTREAM["rf1"] = _Upstream(
    _PCP_REPO,
    "54a31cbfe0c87182cbc4351f1d12a59a65452a40",
    "data/rf1.arff",
    "a5dddb96e60ab166d15a680d733b3ff08a8b9b34",
)
_MULAN_UPSTREAM["scm20d"] = _Upstream(
    _PCP_REPO,
    "e6f505beaf07f208cb496f85ac91fd37482677c6",
    "data/scm20d.arff",
    "915d077523f89eab7336bfee8680aeb1d63cd134",
)


# ---------------------------------------------------------------------------
# The other data sets: dataset -> key -> _DataFile
# ---------------------------------------------------------------------------

_HOUSING = _DataFile(
    "housing.csv.gz",
    "1e8b4dc2959ea8e50ac06259c611c554030978e4c9ec9efbd289a8fdcf7691eb",
    _Upstream(
        "ageron/handson-ml2",
        "1e2115277b50f6c584cd668fa30e3af309a5b136",
        "datasets/housing/housing.csv",
        "d5e3fa249979387797b225dee7dc2c18e619c42c",
    ),
)
_PARKINSONS = _DataFile(
    "parkinsons_updrs.data",
    "f2c7d5025dec4e92e7feae367a5f7ccf58789a10ac6b54bdf15976c599f9dd39",
    _Upstream(
        "behnazrzf/Parkinson-s_Telemonitoring",
        "f603774b38bfc967f20b4752bec4b6f872917d98",
        "data/parkinsons_updrs.data",
        "30a906e0369dda8c666ad1cb715b68ca9f560741",
    ),
)
_SCHOOL = _DataFile(
    "school.mat",
    "57fb3238fdd03a9aa17276e2ce18d9bbb5d128c3261e794fe6233b58b6909068",
    _Upstream(
        "jiayuzhou/MALSAR",
        "fb9751594983df020ddc4f7e4a40520ee7c37989",
        "data/school.mat",
        "2420f5c1ac617bce7090d7a47d800641e72532f1",
    ),
)
_WINE_RED = _DataFile(
    "winequality-red.csv",
    "4a402cf041b025d4566d954c3b9ba8635a3a8a01e039005d97d6a710278cf05e",
    _Upstream(
        "DensQ42/Wine_Quality_EDA",
        "2024565a5ad8ba160c468225857cef0b44eda0db",
        "winequality-red.csv",
        "9bb4e3cd10475593334526fd8deb9e809800f061",
    ),
)
_WINE_WHITE = _DataFile(
    "winequality-white.csv",
    "76c3f809815c17c07212622f776311faeb31e87610d52c26d87d6e361b169836",
    _Upstream(
        "DensQ42/Wine_Quality_EDA",
        "2024565a5ad8ba160c468225857cef0b44eda0db",
        "winequality-white.csv",
        "3c4d55470dd222c898436b17e93cc157da2f39f6",
    ),
)


def _mulan_file(name):
    filename, _, sha256 = MULAN_DATASETS[name]
    return _DataFile(filename, sha256, _MULAN_UPSTREAM[name])


# dataset name -> the files its loader reads (what download_dataset fetches).
_DATASET_FILES = {
    "california_housing": (_HOUSING,),
    "parkinsons_telemonitoring": (_PARKINSONS,),
    "school": (_SCHOOL,),
    "wine_quality": (_WINE_RED, _WINE_WHITE),
    **{name: (_mulan_file(name),) for name in MULAN_DATASETS},
}
