package synth

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Salts separate the random streams of one person, so that one stream can be replayed without the others
// (a near-duplicate re-derives its neighbour's profile, for instance).
const (
	saltPlan    uint64 = 0x1f0a_7c3e_5b29_d841
	saltProfile uint64 = 0x2e7b_9d04_c6a1_35f2
	saltConsent uint64 = 0x3d5c_0b8e_a792_6143
	saltEvents  uint64 = 0x4c3d_e6f1_8a05_b974
	saltEventID uint64 = 0x5b1e_2a97_f3c8_06d5
	saltOrderID uint64 = 0x6a09_71c4_d25e_b836
	saltSession uint64 = 0x79f8_c3a5_0e16_4d27
	saltExtID   uint64 = 0x88e7_145b_6fd9_a2c0
)

// POS affinity of a buyer.
const (
	posNone    = 0 // buys online only
	posOmni    = 1 // buys online and in stores
	posOffline = 2 // buys in stores only
)

// Shares of the population (of persons) with a trait.
const (
	shareMinor        = 0.05
	shareDuplicate    = 0.01
	shareDirtyPhone   = 0.015
	shareMissingCity  = 0.01
	shareBot          = 0.0015
	shareObjector     = 0.03
	shareUpperEmail   = 0.03
	sharePlaceVariant = 0.06
	shareBuyer        = 0.70
	shareNearFamily   = 0.004
	shareNamesake     = 0.003
	shareMarketing    = 0.70
	sharePersonal     = 0.50
	shareAnalytics    = 0.60
	shareSharing      = 0.15
)

// plan holds a person's traits, drawn before anything else from their own stream.
type plan struct {
	minor, dup, dirtyPhone, missingCity, bot  bool
	objector, upperEmail, placeVariant, buyer bool
	// nearFamily and namesake link the person to person i−1; they are set by plan (not basePlan) from the
	// raw draws, once the neighbour is known to be plain.
	nearFamily, namesake       bool
	rawNearFamily, rawNamesake bool
	dupByEmail, dupPOS         bool   // how a duplicated person's records are linked, and whether a POS record exists
	pos                        int    // posNone, posOmni or posOffline
	primary                    string // source of the primary record
}

// basePlan draws the traits of person i that do not depend on a neighbour.
func (g *generator) basePlan(i int) plan {
	r := newRand(g.key, saltPlan, i)
	var p plan
	p.minor = r.Float64() < shareMinor
	p.dup = !p.minor && r.Float64() < shareDuplicate
	p.dirtyPhone = !p.dup && r.Float64() < shareDirtyPhone
	p.missingCity = !p.dup && !p.minor && r.Float64() < shareMissingCity
	p.bot = !p.dup && !p.minor && !p.missingCity && r.Float64() < shareBot
	p.objector = r.Float64() < shareObjector
	p.upperEmail = r.Float64() < shareUpperEmail
	p.placeVariant = r.Float64() < sharePlaceVariant
	p.buyer = (r.Float64() < shareBuyer || p.missingCity) && !p.bot
	u := r.Float64()
	switch {
	case !p.buyer:
	case p.missingCity && u < 0.3, !p.missingCity && u < 0.05:
		p.pos = posOffline
	case p.missingCity || u < 0.20:
		p.pos = posOmni
	}
	p.rawNearFamily = r.Float64() < shareNearFamily
	p.rawNamesake = r.Float64() < shareNamesake
	p.dupByEmail = r.Float64() < 0.3
	p.dupPOS = p.pos != posNone || r.Float64() < 0.5
	u = r.Float64()
	switch {
	case p.dup:
		p.primary = "crm"
	case p.pos == posOffline:
		p.primary = "pos"
	case u < 0.45:
		p.primary = "crm"
	case u < 0.85:
		p.primary = "app"
	default:
		p.primary = "web"
	}
	return p
}

// plan returns the traits of person i, including the near-duplicate links to person i−1, which need a
// plain neighbour (not duplicated, not dirty, not a minor, not itself a near-duplicate).
func (g *generator) plan(i int) plan {
	p := g.basePlan(i)
	if i == 0 || p.dup || p.dirtyPhone || p.missingCity || p.bot {
		return p
	}
	prev := g.basePlan(i - 1)
	plainPrev := !prev.dup && !prev.dirtyPhone && !prev.minor && !prev.bot && !prev.missingCity &&
		!prev.rawNearFamily && !prev.rawNamesake
	p.nearFamily = p.rawNearFamily && plainPrev
	p.namesake = p.rawNamesake && !p.rawNearFamily && plainPrev
	return p
}

// profile is a person's identity as generated, before it is written into records.
type profile struct {
	sur, giv       namePart
	gender         string
	birth          time.Time // a date at midnight UTC
	place          int
	district       string
	address        string
	mobile         string // 11 digits
	email          string // lower case, or ""
	occupation     string
	industry       string
	idNumber, bank string
	reg            int64 // registration, unix seconds
}

// birthDate formats the birth date.
func (pr *profile) birthDate() string { return pr.birth.Format(time.DateOnly) }

// name returns the full name.
func (pr *profile) name() string { return pr.sur.zh + pr.giv.zh }

// profile derives person i's identity. Near-duplicates take their neighbour's phone and address (family) or
// name and city (namesake).
func (g *generator) profile(i int, p plan) profile {
	r := newRand(g.key, saltProfile, i)
	var pr profile
	pr.sur = surnameParts[r.IntN(len(surnameParts))]
	pr.giv = givenParts[r.IntN(len(givenParts))]
	u := r.Float64()
	switch {
	case u < 0.48:
		pr.gender = "female"
	case u < 0.96:
		pr.gender = "male"
	case u < 0.97:
		pr.gender = "other"
	default:
		pr.gender = "unknown"
	}
	pr.birth = g.birth(r, p.minor)
	pr.place = placeTable.draw(r)
	pr.district = places[pr.place].districts[r.IntN(2)]
	pr.address = streets[r.IntN(len(streets))] + strconv.Itoa(1+r.IntN(300)) + "号" + strconv.Itoa(1+r.IntN(30)) +
		"栋" + strconv.Itoa(100+r.IntN(2000)) + "室"
	pr.mobile = mobilePfx[r.IntN(len(mobilePfx))] + pad8((uint64(i)*7654321+g.key%100000000)%100000000)
	hasEmail := r.Float64() < 0.8 || p.dup
	host := emailHosts[r.IntN(len(emailHosts))]
	emailStyle := r.IntN(3)
	age := ageAt(pr.birth, g.nowDate)
	if age >= 16 {
		pr.occupation = occupations[r.IntN(len(occupations))]
		pr.industry = industries[r.IntN(len(industries))]
	}
	if age >= 16 && r.Float64() < 0.3 {
		pr.idNumber = IDNumber(r, pr.birth)
	}
	if age >= 18 && r.Float64() < 0.1 {
		pr.bank = "6222" + pad8(r.Uint64N(100000000)) + pad8(r.Uint64N(100000000))[1:]
	}
	span := g.now - g.start - 2*86400
	pr.reg = g.start + int64(r.Float64()*float64(span))

	if p.nearFamily || p.namesake {
		prev := g.profile(i-1, g.plan(i-1))
		if p.nearFamily {
			pr.sur = prev.sur
			if s, ok := similarGiven[prev.giv.zh]; ok {
				pr.giv = namePart{s, prev.giv.py}
			}
			pr.mobile = prev.mobile
			pr.place, pr.district, pr.address = prev.place, prev.district, prev.address
		} else {
			pr.sur, pr.giv = prev.sur, prev.giv
			pr.place = prev.place
		}
		if pr.birth.Equal(prev.birth) {
			pr.birth = pr.birth.AddDate(-1, 0, 0)
		}
	}
	if hasEmail {
		n := strconv.Itoa(i + 1)
		switch emailStyle {
		case 0:
			pr.email = pr.sur.py + pr.giv.py + n + "@" + host
		case 1:
			pr.email = pr.giv.py + "." + pr.sur.py + n + "@" + host
		default:
			pr.email = pr.sur.py + "_" + pr.giv.py + "_" + n + "@" + host
		}
	}
	return pr
}

// birth draws a birth date: under 14 (6 to 13 years old at the reference date) for minors; otherwise an age
// of at least 14 years and a month, by bands weighted like an online shop's customers.
func (g *generator) birth(r *rand.Rand, minor bool) time.Time {
	var years, extraDays int
	if minor {
		years, extraDays = 6+r.IntN(7), r.IntN(330)
	} else {
		bands := [...]struct {
			lo, hi int
			w      float64
		}{{14, 17, 0.04}, {18, 24, 0.18}, {25, 34, 0.32}, {35, 44, 0.24}, {45, 59, 0.16}, {60, 79, 0.06}}
		u := r.Float64()
		b := len(bands) - 1
		for k, x := range bands {
			if u < x.w {
				b = k
				break
			}
			u -= x.w
		}
		years = bands[b].lo + r.IntN(bands[b].hi-bands[b].lo+1)
		extraDays = 30 + r.IntN(300)
	}
	return g.nowDate.AddDate(-years, 0, -extraDays)
}

// ageAt returns the age in whole years on a date.
func ageAt(birth, on time.Time) int {
	age := on.Year() - birth.Year()
	if on.YearDay() < birth.YearDay() {
		age--
	}
	return age
}

// placeTable draws a place by weight.
var placeTable = func() cumTable {
	w := make([]float64, len(places))
	for k, p := range places {
		w[k] = p.weight
	}
	return newCum(w)
}()

// pad8 formats n with at least 8 digits.
func pad8(n uint64) string { return padN(n, 8) }

// padN formats n with at least w digits.
func padN(n uint64, w int) string {
	s := strconv.FormatUint(n, 10)
	if len(s) < w {
		s = strings.Repeat("0", w-len(s)) + s
	}
	return s
}

// Phone formats. The clean ones pass the schema's phone check and normalise to E.164; the dirty ones do not
// pass the schema check (full-width digits, dots, a "tel:" prefix).
func phoneE164(m string) string   { return "+86" + m }
func phoneSpaced(m string) string { return m[:3] + " " + m[3:7] + " " + m[7:] }
func phoneIntl(m string) string   { return "+86 " + phoneSpaced(m) }
func phone0086(m string) string   { return "0086-" + m[:3] + "-" + m[3:7] + "-" + m[7:] }
func phoneDirty(m string, k int) string {
	switch k {
	case 0:
		var b strings.Builder
		for _, c := range m {
			b.WriteRune(c - '0' + '０')
		}
		return b.String()
	case 1:
		return m[:3] + "." + m[3:7] + "." + m[7:]
	default:
		return "tel:+86" + m
	}
}

// extID returns the external id of person i's record from source src: the primary record gets a readable
// id, the others an opaque one (different systems number people differently).
func (g *generator) extID(i int, src string, primary bool) string {
	prefix := map[string]string{"crm": "C", "app": "A", "web": "W", "pos": "P"}[src]
	if primary {
		return prefix + padN(uint64(i+1), 7)
	}
	h := mix64(uint64(i) ^ mix64(g.key^saltExtID^uint64(len(src))<<8^uint64(src[0])))
	return prefix + "x" + hex16(h)
}

// ref returns the subject reference of a record.
func ref(src, ext string) string { return "external:" + src + ":" + ext }

const hexDigits = "0123456789abcdef"

// hex16 formats x as 16 lower-case hex digits.
func hex16(x uint64) string {
	var b [16]byte
	for k := 15; k >= 0; k-- {
		b[k] = hexDigits[x&15]
		x >>= 4
	}
	return string(b[:])
}

// person is everything generated for one person except the events.
type person struct {
	i        int
	p        plan
	prof     profile
	records  []SubjectRecord
	refs     []string // refs[k] is the reference of records[k]
	consents []ConsentRecord
	behavior bool // has a personalization or analytics consent (behaviour may be collected)
	// truth contributions
	dirty         map[string][]string
	dirtyPhones   int
	missingCity   int
	upperEmails   int
	placeVariants int
	nearGroup     []string
}

// refFor returns the reference of the record an event from source src belongs to: the person's record from
// that source if there is one, else the primary record.
func (ps *person) refFor(src string) string {
	for k, rec := range ps.records {
		if rec.Source == src {
			return ps.refs[k]
		}
	}
	return ps.refs[0]
}

// makePerson builds person i's records and consents.
func (g *generator) makePerson(i int, ps *person) {
	*ps = person{i: i, p: g.plan(i)}
	p := &ps.p
	ps.prof = g.profile(i, *p)
	pr := &ps.prof
	r := newRand(g.key, saltConsent, i)
	pl := places[pr.place]

	primary := map[string]string{"name": pr.name(), "gender": pr.gender, "birth_date": pr.birthDate(),
		"province": pl.province, "city": pl.city, "district": pr.district, "address_line": pr.address}
	if pr.email != "" {
		primary["email"] = pr.email
	}
	for k, v := range map[string]string{"occupation": pr.occupation, "industry": pr.industry, "id_number": pr.idNumber, "bank_account": pr.bank} {
		if v != "" {
			primary[k] = v
		}
	}
	u := r.Float64()
	switch {
	case p.dup:
		primary["phone"] = phoneSpaced(pr.mobile)
	case u < 0.5:
		primary["phone"] = phoneE164(pr.mobile)
	case u < 0.75:
		primary["phone"] = pr.mobile
	case u < 0.9:
		primary["phone"] = phoneSpaced(pr.mobile)
	default:
		primary["phone"] = phoneIntl(pr.mobile)
	}
	ext := g.extID(i, p.primary, true)
	pref := ref(p.primary, ext)
	if p.dirtyPhone {
		primary["phone"] = phoneDirty(pr.mobile, r.IntN(3))
		ps.dirty = map[string][]string{pref: {"phone"}}
		ps.dirtyPhones++
	}
	if p.upperEmail && pr.email != "" && !p.dup {
		primary["email"] = strings.ToUpper(pr.email)
		ps.upperEmails++
	}
	if p.placeVariant {
		switch r.IntN(3) {
		case 0:
			primary["province"] = pl.provinceAlt
		case 1:
			primary["city"] = pl.city + "市"
		default:
			primary["province"], primary["city"] = pl.provinceAlt, pl.city+"市"
		}
		ps.placeVariants++
	}
	if p.missingCity {
		delete(primary, "city")
		ps.missingCity++
	}
	ps.records = append(ps.records, SubjectRecord{ExternalID: ext, Source: p.primary, Fields: primary})
	ps.refs = append(ps.refs, pref)

	if p.dup {
		// The same person as known to the app (and to the stores): the same name, the same phone written
		// differently, or the same e-mail address in another case.
		app := map[string]string{"name": pr.name(), "gender": pr.gender, "province": pl.province, "city": pl.city}
		if p.dupByEmail {
			primary["email"] = mixedCase(pr.email)
			app["email"] = pr.email
		} else {
			app["phone"] = phoneE164(pr.mobile)
		}
		ps.addRecord(g, "app", app)
		if p.dupPOS {
			ps.addRecord(g, "pos", map[string]string{"name": pr.name(), "phone": phone0086(pr.mobile), "birth_date": pr.birthDate()})
		}
	}
	if p.nearFamily || p.namesake {
		pp := g.plan(i - 1)
		ps.nearGroup = []string{ref(pp.primary, g.extID(i-1, pp.primary, true)), pref}
	}

	// Consents: the same choices recorded on each of the person's records (a merge never carries a consent
	// from one record to another, so each collection point records its own).
	granted := [...]bool{r.Float64() < shareMarketing, r.Float64() < sharePersonal, r.Float64() < shareAnalytics,
		!p.minor && r.Float64() < shareSharing}
	ps.behavior = granted[1] || granted[2]
	// Consents are given at sign-up or within the first weeks after it: behaviour is collected under a
	// consent only from the moment it was given.
	lo := pr.reg
	hi := min(pr.reg+30*86400, g.now-3600)
	if lo >= hi {
		lo = hi - 3600
	}
	var at [4]int64
	for k := range at {
		at[k] = lo + int64(r.Float64()*float64(hi-lo))
	}
	purposes := [...]string{"marketing", "personalization", "analytics", "third_party_sharing"}
	for k, rec := range ps.records {
		method := map[string]string{"crm": "phone_call", "app": "app_checkbox", "web": "web_form", "pos": "paper_form"}[rec.Source]
		for j, ok := range granted {
			if !ok {
				continue
			}
			c := ConsentRecord{SubjectRef: ps.refs[k], Purpose: purposes[j], Kind: "general", NoticeVersion: NoticeVersion,
				Method: method, GrantedAt: time.Unix(at[j], 0).UTC()}
			if p.minor {
				c.Kind, c.Method = "guardian", "guardian_form"
			}
			if purposes[j] == "third_party_sharing" {
				c.Kind, c.Recipient = "separate", "sf_express"
			}
			ps.consents = append(ps.consents, c)
		}
	}
}

// addRecord adds a secondary record of the person.
func (ps *person) addRecord(g *generator, src string, fields map[string]string) {
	ext := g.extID(ps.i, src, false)
	ps.records = append(ps.records, SubjectRecord{ExternalID: ext, Source: src, Fields: fields})
	ps.refs = append(ps.refs, ref(src, ext))
}

// mixedCase capitalises the first letter of the local part and the whole domain ("Wangwei12@EXAMPLE.CN").
func mixedCase(email string) string {
	local, domain, _ := strings.Cut(email, "@")
	if local == "" {
		return email
	}
	return strings.ToUpper(local[:1]) + local[1:] + "@" + strings.ToUpper(domain)
}
