/* scenario.c — the simulator's regencies, as data (see scenario.h).
 *
 * Each table matches config/catalog/<id>.ini: a KPI there reads a metric
 * published here, with the label keys given here. Places are approximate
 * centres of kecamatan and desa; sites beyond them ("gunung-sugih-2") stand
 * for the other kampung of a kecamatan, whose names the demo does not know.
 * Survey figures from the seed articles are marked so; the others are
 * examples, as the catalogs' `; contoh` targets are. */
#include <stddef.h>
#include <string.h>

#include "scenario.h"

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- shared label values (a value repeated is a value more likely) ---- */

static const char *const materials[] = {"plastik", "plastik", "kertas", "logam", "kaca", NULL};

/* ---- Kabupaten Lampung Tengah (WIB) ---- */

static const struct sim_place lt_places[] = {
    {"gunung-sugih", -4.9660, 105.2710},
    {"bandar-jaya", -4.9100, 105.2180},
    {"terbanggi-besar", -4.8930, 105.2400},
    {"yukum-jaya", -4.9290, 105.2000},
    {"poncowati", -4.8610, 105.2250},
    {"seputih-banyak", -4.8020, 105.5240},
    {"kota-gajah", -5.0300, 105.2950},
    {"punggur", -5.0420, 105.3290},
    {"trimurjo", -5.0800, 105.2520},
    {"kalirejo", -5.0480, 104.9710},
    {"padang-ratu", -4.9130, 104.9320},
    {"seputih-mataram", -4.9900, 105.4400},
    {"seputih-surabaya", -4.8200, 105.6950},
    {"rumbia", -4.7400, 105.6150},
    {"bandar-mataram", -4.6700, 105.3800},
    {"terusan-nunyai", -4.7900, 105.2900},
    {"anak-tuha", -4.9700, 105.0700},
    {"bangun-rejo", -5.0400, 105.0400},
    {"bekri", -5.0800, 105.1400},
    {"way-pengubuan", -4.8700, 105.1600},
    {"seputih-agung", -4.9200, 105.3600},
    {"bumi-ratu-nuban", -5.0000, 105.1600},
    {"selagai-lingga", -4.8500, 104.9000},
    {"komering-agung", -4.9450, 105.2950},
};

/* Reference prices around 2026, rupiah per kg (minyak goreng per litre). */
static const struct sim_commodity lt_commodities[] = {
    {"beras-medium", 13500, 12000, 100}, {"beras-premium", 15500, 6000, 100},
    {"gula-pasir", 18000, 2500, 100},    {"minyak-goreng", 17500, 2000, 100},
    {"cabai-merah", 45000, 300, 500},    {"bawang-merah", 38000, 600, 500},
    {"bawang-putih", 39000, 500, 500},   {"telur-ayam", 29000, 1500, 100},
    {"daging-ayam", 37000, 800, 500},    {"daging-sapi", 135000, 250, 1000},
};

/* KTP most, then KK, KIA and akta lahir (PADUKA LAMTENG's documents). */
static const char *const lt_docs[] = {"ktp", "ktp", "ktp", "kk", "kk", "kia", "akta-lahir", NULL};
static const char *const lt_taxes[] = {
    "pbb-p2", "bphtb", "pbjt-makan-minum", "pbjt-perhotelan", "reklame", "air-tanah", NULL};
static const char *const lt_services[] = {"adminduk", "perizinan", "kesehatan",
                                          "bansos",   "pengaduan", NULL};

static const struct sim_program lt_programs[] = {
    {.slug = "paduka-lamteng",
     .gen = GEN_VAN,
     .unit_prefix = "van-",
     .positioned = true,
     .metrics = {{"documents_issued", 1, 4, 0, "doc", lt_docs, false}},
     .site_label = "kampung",
     .sites = 311, /* the article's 311 kampung */
     .history = 300},
    {.slug = "simas-bapokting", .gen = GEN_MARKET, .unit_prefix = "pasar-", .unit_by_place = true},
    {.slug = "simas-bapokting", .gen = GEN_REFERENCE, .unit_prefix = "disperindag", .units = 1},
    {.slug = "siap-sijak",
     .gen = GEN_COUNTER,
     .unit_prefix = "tim-",
     .metrics = {{"tax_potential_rp", 500000, 25000000, 0, "tax", lt_taxes, false}},
     .history = 150},
    {.slug = "grebek-stunting",
     .gen = GEN_COUNTER,
     .unit_prefix = "puskesmas-",
     .unit_by_place = true,
     .metrics = {{"toddlers_fed", 3, 15, 0, "kampung", NULL, false}},
     .history = 200},
    {.slug = "kampung-jagoan",
     .gen = GEN_COUNTER,
     .unit_prefix = "kampung-",
     .unit_by_place = true,
     .metrics = {{"services_delivered", 1, 6, 0, "service", lt_services, false}},
     .history = 150},
    {.slug = "mobilika",
     .gen = GEN_COUNTER,
     .unit_prefix = "mobilika-",
     .positioned = true,
     .metrics = {{"waste_sorted_kg", 0.5, 12, 1, "material", materials, false},
                 {"books_lent", 1, 8, 0, "kampung", NULL, false}},
     .history = 200},
};

static const struct sim_event lt_events[] = {
    /* cabai merah at the first market: 18 % over the reference for 25 min,
     * so the 10 % rule fires after its 15 min and resolves after. */
    {EV_SPIKE, "simas-bapokting", 0, 60, 1500, "cabai-merah", 1.18},
    {EV_SILENT, "paduka-lamteng", 1, 120, 4000, NULL, 0}, /* > the 1 h silent rule */
    {EV_DROP, "mobilika", 1, 90, 300, NULL, 0},
};

/* ---- Kabupaten Lombok Utara (WITA) ---- */

static const struct sim_place klu_places[] = {
    {"tanjung", -8.3520, 116.1500},        {"pemenang-barat", -8.3970, 116.1000},
    {"gili-indah", -8.3500, 116.0550},     {"medana", -8.3700, 116.1300},
    {"sigar-penjalin", -8.3400, 116.1700}, {"gondang", -8.3180, 116.2150},
    {"genggelang", -8.3300, 116.2400},     {"bentek", -8.3000, 116.2300},
    {"kayangan", -8.2680, 116.2830},       {"santong", -8.3000, 116.3000},
    {"sesait", -8.2900, 116.3300},         {"bayan", -8.2620, 116.4220},
    {"senaru", -8.3050, 116.4050},         {"anyar", -8.2500, 116.4000},
    {"akar-akar", -8.2550, 116.4500},      {"malaka", -8.4200, 116.0700},
};

static const char *const klu_permits[] = {"nib", "nib", "nib", "pirt", "sertifikat-halal", NULL};
static const char *const klu_islands[] = {"gili-trawangan", "gili-trawangan", "gili-air",
                                          "gili-meno", NULL};
static const char *const klu_sources[] = {"puskesmas", "praktik-mandiri", "jejaring", NULL};
static const char *const klu_results[] = {"lulus", "lulus", "lulus", "lulus", "tidak-lulus", NULL};

/* From the article: 28,3 % in 2021, 22,9 % "this year" (4 Oct 2022). */
static const struct sim_point klu_stunting[] = {{"2021-12-31", 28.3}, {"2022-10-04", 22.9}, {0}};
/* 8 desa (article, Oct 2022), 6 more planned that year (article); later: examples. */
static const struct sim_point klu_tps3r[] = {{"2022-10-04", 8},  {"2022-12-31", 14},
                                             {"2023-12-31", 20}, {"2024-12-31", 26},
                                             {"2025-12-31", 33}, {0}};
/* 2,01 in 2021 (article); later: examples. */
static const struct sim_point klu_spbe[] = {
    {"2021-12-31", 2.01}, {"2023-12-31", 2.45}, {"2025-12-31", 2.74}, {0}};
static const struct sim_point klu_destana[] = {
    {"2021-12-31", 10}, {"2023-12-31", 16}, {"2025-12-31", 24}, {0}}; /* examples */

static const struct sim_program klu_programs[] = {
    {.slug = "oss-keliling",
     .gen = GEN_VAN,
     .unit_prefix = "mobil-oss-",
     .positioned = true,
     .metrics = {{"permits_issued", 1, 5, 0, "permit", klu_permits, false}},
     .site_label = "desa",
     .sites = 43,
     .history = 120},
    {.slug = "spbe",
     .gen = GEN_SURVEY,
     .unit_prefix = "diskominfo",
     .units = 1,
     .metrics = {{"spbe_index", 0, 0, 2, NULL, NULL, false}},
     .points = klu_spbe},
    {.slug = "gili-tramena",
     .gen = GEN_COUNTER,
     .unit_prefix = "pos-",
     .metrics = {{"visitor_arrivals", 5, 60, 0, "island", klu_islands, false}},
     .history = 250},
    {.slug = "udang-vaname",
     .gen = GEN_COUNTER,
     .unit_prefix = "kolam-",
     .metrics = {{"harvest_kg", 20, 150, 1, NULL, NULL, false}},
     .history = 80},
    {.slug = "penurunan-stunting",
     .gen = GEN_SURVEY,
     .unit_prefix = "dinkes",
     .units = 1,
     .metrics = {{"stunting_prevalence", 0, 0, 1, NULL, NULL, false}},
     .points = klu_stunting},
    {.slug = "penurunan-stunting",
     .gen = GEN_COUNTER,
     .unit_prefix = "posyandu-",
     .unit_by_place = true,
     .metrics = {{"eggs_given", 10, 60, 0, "desa", NULL, false}},
     .history = 200},
    {.slug = "inpkb",
     .gen = GEN_COUNTER,
     .unit_prefix = "uji-",
     .metrics = {{"vehicles_tested", 1, 4, 0, "result", klu_results, false}},
     .history = 200},
    {.slug = "limbah-medis",
     .gen = GEN_COUNTER,
     .unit_prefix = "puskesmas-",
     .unit_by_place = true,
     .metrics = {{"medical_waste_kg", 0.5, 12, 1, "source", klu_sources, false}},
     .history = 200},
    {.slug = "destana",
     .gen = GEN_SURVEY,
     .unit_prefix = "bpbd",
     .units = 1,
     .metrics = {{"destana_villages", 0, 0, 0, NULL, NULL, false}},
     .points = klu_destana},
    {.slug = "pjs",
     .gen = GEN_COUNTER,
     .unit_prefix = "truck-",
     .positioned = true,
     .metrics = {{"pickups", 0, 6, 0, NULL, NULL, true},
                 {"waste_kg", 40, 900, 1, "zone", NULL, false}},
     .history = 200},
    {.slug = "tps3r",
     .gen = GEN_SURVEY,
     .unit_prefix = "dlh",
     .units = 1,
     .metrics = {{"tps3r_villages", 0, 0, 0, NULL, NULL, false}},
     .points = klu_tps3r},
};

static const struct sim_event klu_events[] = {
    {EV_DROP, "pjs", 1, 90, 300, NULL, 0},
    {EV_SILENT, "oss-keliling", 0, 120, 4000, NULL, 0},
};

/* ---- Kabupaten Lumajang (WIB) ---- */

static const struct sim_place lmj_places[] = {
    {"lumajang", -8.1330, 113.2220},  {"sukodono", -8.1000, 113.2200},
    {"tempeh", -8.2000, 113.1500},    {"pasirian", -8.2100, 113.1100},
    {"senduro", -8.0900, 113.0900},   {"gucialit", -8.0500, 113.1000},
    {"klakah", -7.9800, 113.2500},    {"ranuyoso", -7.9500, 113.2800},
    {"kunir", -8.2000, 113.2500},     {"jatiroto", -8.1000, 113.3500},
    {"pronojiwo", -8.2000, 112.9500}, {"tekung", -8.1500, 113.3000},
};

static const char *const lmj_docs[] = {"ktp", "ktp", "kk", "kia", "akta-lahir", NULL};
static const char *const lmj_permits[] = {"nib", "nib", "pbg", "slf", "izin-usaha", NULL};
static const char *const lmj_products[] = {"kredit-prima", "kredit-mentari", NULL};

/* Most quick wins are named but not described by the article: their units
 * report the services their system records ("services"). */
#define LMJ_SERVICES(slug_, prefix_)                                                               \
    {                                                                                              \
        .slug = slug_, .gen = GEN_COUNTER, .unit_prefix = prefix_, .units = 1,                     \
        .metrics = {{"services", 1, 5, 0, NULL, NULL, false}}, .history = 150                      \
    }

static const struct sim_program lmj_programs[] = {
    {.slug = "lagakita",
     .gen = GEN_COUNTER,
     .unit_prefix = "loket-",
     .units = 2,
     .metrics = {{"documents_issued", 1, 4, 0, "doc", lmj_docs, false}},
     .history = 200},
    LMJ_SERVICES("simwas", "inspektorat"),
    LMJ_SERVICES("simak", "bkd"),
    {.slug = "esimpadu",
     .gen = GEN_COUNTER,
     .unit_prefix = "loket-",
     .units = 2,
     .metrics = {{"permits_issued", 1, 4, 0, "permit", lmj_permits, false}},
     .history = 150},
    LMJ_SERVICES("mamarisa", "dlh"),
    LMJ_SERVICES("gedang-mesem", "dpkp"),
    LMJ_SERVICES("simpell", "dishub"),
    LMJ_SERVICES("simpul", "dinkes"),
    LMJ_SERVICES("ngapling", "dputr"),
    LMJ_SERVICES("simtaru", "dputr"),
    LMJ_SERVICES("beli-nasi", "bpbd"),
    LMJ_SERVICES("smart-kan", "dindikbud"),
    LMJ_SERVICES("susi-pasti", "puskesmas-gucialit"),
    LMJ_SERVICES("melanda", "dispora"),
    LMJ_SERVICES("linlin", "dpmptsp"),
    LMJ_SERVICES("tawes-sehat", "diskan"),
    LMJ_SERVICES("hulirkanpropam", "diskan"),
    LMJ_SERVICES("pa-losemeru", "dkpp"),
    {.slug = "kredit-prima-mentari",
     .gen = GEN_COUNTER,
     .unit_prefix = "bpr-",
     .units = 2,
     .metrics = {{"loans_disbursed_rp", 2000000, 50000000, 0, "product", lmj_products, false}},
     .history = 150},
    LMJ_SERVICES("jempol-simantul", "dkpp"),
};

static const struct sim_event lmj_events[] = {
    {EV_SILENT, "lagakita", 1, 120, 4000, NULL, 0},
    {EV_DROP, "esimpadu", 1, 90, 300, NULL, 0},
};

/* ---- Kabupaten Blitar (WIB) ---- */

static const struct sim_place blt_places[] = {
    {"kanigoro", -8.1300, 112.2150}, {"wlingi", -8.0780, 112.3190},
    {"srengat", -8.0650, 112.1100},  {"talun", -8.0900, 112.2700},
    {"kesamben", -8.1050, 112.3500}, {"sutojayan", -8.2100, 112.2300},
    {"nglegok", -8.0300, 112.2300},  {"ponggok", -8.0500, 112.1700},
    {"garum", -8.0700, 112.2350},    {"selorejo", -8.1400, 112.3800},
    {"binangun", -8.2300, 112.3800}, {"wates", -8.2400, 112.3100},
};

static const char *const blt_docs[] = {"ktp", "ktp", "kk", "kk", "akta", NULL};
static const char *const blt_activities[] = {"pertunjukan", "co-working", "kuliner", "kuliner",
                                             NULL};
static const char *const blt_channels[] = {"media-sosial", "media-sosial", "event", "pameran",
                                           NULL};
static const char *const blt_calls[] = {"medis",   "medis",    "kecelakaan", "kebakaran",
                                        "bencana", "kriminal", "iseng",      NULL};

static const struct sim_program blt_programs[] = {
    {.slug = "pak-saidi",
     .gen = GEN_COUNTER,
     .unit_prefix = "desa-",
     .unit_by_place = true,
     .metrics = {{"documents_issued", 1, 4, 0, "doc", blt_docs, false},
                 {"turnaround_hours", 4, 30, 1, NULL, NULL, false}},
     .history = 200},
    {.slug = "adi-marko",
     .gen = GEN_COUNTER,
     .unit_prefix = "kelas-",
     .units = 1,
     .metrics = {{"umkm_trained", 5, 25, 0, NULL, NULL, false}},
     .history = 40},
    {.slug = "bank-sampah",
     .gen = GEN_COUNTER,
     .unit_prefix = "bank-sampah-",
     .unit_by_place = true,
     .metrics = {{"waste_deposited_kg", 1, 25, 1, "material", materials, false}},
     .history = 200},
    {.slug = "si-anoman",
     .gen = GEN_COUNTER,
     .unit_prefix = "anjungan-",
     .units = 2,
     .metrics = {{"registrations", 1, 3, 0, NULL, NULL, false},
                 {"wait_minutes", 3, 25, 1, NULL, NULL, false}},
     .history = 200},
    {.slug = "rumah-blitar-kreatif",
     .gen = GEN_COUNTER,
     .unit_prefix = "rbk-",
     .units = 1,
     .metrics = {{"visitors", 2, 30, 0, "activity", blt_activities, false}},
     .history = 150},
    {.slug = "duta-wisata",
     .gen = GEN_COUNTER,
     .unit_prefix = "duta-",
     .units = 2,
     .metrics = {{"promotions", 1, 3, 0, "channel", blt_channels, false}},
     .history = 80},
    {.slug = "call-center-112",
     .gen = GEN_COUNTER,
     .unit_prefix = "operator-",
     .units = 2,
     .metrics = {{"calls", 1, 3, 0, "type", blt_calls, false},
                 {"response_minutes", 4, 14, 1, NULL, NULL, false}},
     .history = 200},
};

static const struct sim_event blt_events[] = {
    {EV_SILENT, "call-center-112", 1, 120, 2400, NULL, 0}, /* > the 30 min silent rule */
    {EV_DROP, "si-anoman", 1, 90, 300, NULL, 0},
};

/* ---- the regencies ---- */

static const struct scenario lampung_tengah = {
    "lampung-tengah", "Kabupaten Lampung Tengah", 420,         lt_places,          COUNT(lt_places),
    lt_commodities,   COUNT(lt_commodities),      lt_programs, COUNT(lt_programs), lt_events,
    COUNT(lt_events)};

static const struct scenario lombok_utara = {"lombok-utara",
                                             "Kabupaten Lombok Utara",
                                             480,
                                             klu_places,
                                             COUNT(klu_places),
                                             NULL,
                                             0,
                                             klu_programs,
                                             COUNT(klu_programs),
                                             klu_events,
                                             COUNT(klu_events)};

static const struct scenario lumajang = {
    "lumajang",   "Kabupaten Lumajang", 420,        lmj_places,       COUNT(lmj_places), NULL, 0,
    lmj_programs, COUNT(lmj_programs),  lmj_events, COUNT(lmj_events)};

static const struct scenario blitar = {
    "blitar",     "Kabupaten Blitar",  420,        blt_places,       COUNT(blt_places), NULL, 0,
    blt_programs, COUNT(blt_programs), blt_events, COUNT(blt_events)};

/* Its catalog names no program yet: no field units to simulate. */
static const struct scenario lombok_tengah = {
    "lombok-tengah", "Kabupaten Lombok Tengah", 480, NULL, 0, NULL, 0, NULL, 0, NULL, 0};

static const struct scenario *const all[] = {&lampung_tengah, &lombok_utara, &lumajang, &blitar,
                                             &lombok_tengah};

const struct scenario *scenario_find(const char *id)
{
    for (int i = 0; i < COUNT(all); i++)
        if (strcmp(all[i]->id, id) == 0)
            return all[i];
    return NULL;
}

const struct scenario *scenario_at(int i)
{
    return i >= 0 && i < COUNT(all) ? all[i] : NULL;
}
