// Package province lists Vietnam's 34 provincial-level units as Quantrac uses
// them: an ASCII slug for topics and labels, the Vietnamese name, and the
// climatic region that the gateway simulator models.
//
// The list follows the 2025 reorganisation: 6 centrally-run cities and 28
// provinces. A slug is the contract: it appears in MQTT topics
// (telemetry/<slug>/...), in the province label of every series, in the
// gateways and tokens files, and in Sparkplug group ids.
package province

// Region is the broad climatic region of a province.
type Region uint8

// Regions, north to south.
const (
	North Region = iota + 1
	Centre
	South
)

// String returns the region's lower-case name.
func (r Region) String() string {
	switch r {
	case North:
		return "north"
	case Centre:
		return "centre"
	case South:
		return "south"
	}
	return "unknown"
}

// Province is one provincial-level unit.
type Province struct {
	Slug   string // ASCII, lower case, words joined by '-'
	Name   string // Vietnamese name with diacritics
	City   bool   // a centrally-run city rather than a province
	Region Region
	Code   string // two-letter code used in generated gateway ids
}

var all = []Province{
	{"ha-noi", "Hà Nội", true, North, "hn"},
	{"hai-phong", "Hải Phòng", true, North, "hp"},
	{"hue", "Huế", true, Centre, "hu"},
	{"da-nang", "Đà Nẵng", true, Centre, "dn"},
	{"ho-chi-minh", "Hồ Chí Minh", true, South, "hc"},
	{"can-tho", "Cần Thơ", true, South, "ct"},
	{"tuyen-quang", "Tuyên Quang", false, North, "tq"},
	{"cao-bang", "Cao Bằng", false, North, "cb"},
	{"lai-chau", "Lai Châu", false, North, "lc"},
	{"lao-cai", "Lào Cai", false, North, "lk"},
	{"thai-nguyen", "Thái Nguyên", false, North, "tn"},
	{"dien-bien", "Điện Biên", false, North, "db"},
	{"lang-son", "Lạng Sơn", false, North, "ls"},
	{"son-la", "Sơn La", false, North, "sl"},
	{"phu-tho", "Phú Thọ", false, North, "pt"},
	{"bac-ninh", "Bắc Ninh", false, North, "bn"},
	{"quang-ninh", "Quảng Ninh", false, North, "qn"},
	{"hung-yen", "Hưng Yên", false, North, "hy"},
	{"ninh-binh", "Ninh Bình", false, North, "nb"},
	{"thanh-hoa", "Thanh Hóa", false, Centre, "th"},
	{"nghe-an", "Nghệ An", false, Centre, "na"},
	{"ha-tinh", "Hà Tĩnh", false, Centre, "ht"},
	{"quang-tri", "Quảng Trị", false, Centre, "qt"},
	{"quang-ngai", "Quảng Ngãi", false, Centre, "qg"},
	{"gia-lai", "Gia Lai", false, Centre, "gl"},
	{"khanh-hoa", "Khánh Hòa", false, Centre, "kh"},
	{"lam-dong", "Lâm Đồng", false, South, "ld"},
	{"dak-lak", "Đắk Lắk", false, Centre, "dl"},
	{"dong-nai", "Đồng Nai", false, South, "dg"},
	{"tay-ninh", "Tây Ninh", false, South, "ty"},
	{"vinh-long", "Vĩnh Long", false, South, "vl"},
	{"dong-thap", "Đồng Tháp", false, South, "dt"},
	{"ca-mau", "Cà Mau", false, South, "cm"},
	{"an-giang", "An Giang", false, South, "ag"},
}

var bySlug = func() map[string]int {
	m := make(map[string]int, len(all))
	for i, p := range all {
		m[p.Slug] = i
	}
	return m
}()

// All returns the 34 units, cities first. The caller must not modify the
// returned slice.
func All() []Province { return all }

// Count is the number of provincial-level units.
const Count = 34

// Lookup returns the province with the given slug.
func Lookup(slug string) (Province, bool) {
	i, ok := bySlug[slug]
	if !ok {
		return Province{}, false
	}
	return all[i], true
}

// Valid reports whether b is a known province slug. It does not allocate.
func Valid(b []byte) bool {
	_, ok := bySlug[string(b)]
	return ok
}
