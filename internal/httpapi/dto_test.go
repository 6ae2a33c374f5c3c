package httpapi

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

var updateDTO = flag.Bool("update", false, "rewrite the DTO golden files from the current encoding")

// dtoCases pair each domain type with its wire form, built from a sample with every field set.
var dtoCases = []struct {
	name string
	make func() (domain, wire any)
}{
	{"ConsentView", func() (any, any) {
		var x vault.ConsentView
		fill(reflect.ValueOf(&x).Elem())
		return x, toConsentViewDTO(x)
	}},
	{"EventRejection", func() (any, any) {
		var x vault.EventRejection
		fill(reflect.ValueOf(&x).Elem())
		return x, toEventRejectionDTO(x)
	}},
	{"IngestResult", func() (any, any) {
		var x vault.IngestResult
		fill(reflect.ValueOf(&x).Elem())
		return x, toIngestResultDTO(x)
	}},
	{"EventView", func() (any, any) {
		var x vault.EventView
		fill(reflect.ValueOf(&x).Elem())
		return x, toEventViewDTO(x)
	}},
	{"MergeRow", func() (any, any) { var x vault.MergeRow; fill(reflect.ValueOf(&x).Elem()); return x, toMergeRowDTO(x) }},
	{"ReviewRow", func() (any, any) {
		var x vault.ReviewRow
		fill(reflect.ValueOf(&x).Elem())
		return x, toReviewRowDTO(x)
	}},
	{"ImportReport", func() (any, any) {
		var x vault.ImportReport
		fill(reflect.ValueOf(&x).Elem())
		return x, toImportReportDTO(x)
	}},
	{"AudienceRow", func() (any, any) {
		var x vault.AudienceRow
		fill(reflect.ValueOf(&x).Elem())
		var m policies.PersonalisedMarker
		fill(reflect.ValueOf(&m).Elem())
		return x, toAudienceDTO(x, toPersonalisedDTO(m))
	}},
	{"KEKUse", func() (any, any) { var x vault.KEKUse; fill(reflect.ValueOf(&x).Elem()); return x, toKEKUseDTO(x) }},
	{"KeyReport", func() (any, any) {
		var x vault.KeyReport
		fill(reflect.ValueOf(&x).Elem())
		return x, toKeyReportDTO(x)
	}},
	{"KeyStatus", func() (any, any) {
		var x vault.KeyStatus
		fill(reflect.ValueOf(&x).Elem())
		return x, toKeyStatusDTO(x)
	}},
	{"KEKState", func() (any, any) { var x vault.KEKState; fill(reflect.ValueOf(&x).Elem()); return x, toKEKStateDTO(x) }},
	{"RotationResult", func() (any, any) {
		var x vault.RotationResult
		fill(reflect.ValueOf(&x).Elem())
		return x, toRotationResultDTO(x)
	}},
	{"JobStatus", func() (any, any) {
		var x vault.JobStatus
		fill(reflect.ValueOf(&x).Elem())
		return x, toJobStatusDTO(x)
	}},
	{"MeConsentResult", func() (any, any) {
		var x vault.MeConsentResult
		fill(reflect.ValueOf(&x).Elem())
		return x, toMeConsentResultDTO(x)
	}},
	{"AccessLogEntry", func() (any, any) {
		var x vault.AccessLogEntry
		fill(reflect.ValueOf(&x).Elem())
		return x, toAccessLogEntryDTO(x)
	}},
	{"PurposeExplanation", func() (any, any) {
		var x vault.PurposeExplanation
		fill(reflect.ValueOf(&x).Elem())
		return x, toPurposeExplanationDTO(x, "en")
	}},
	{"Export", func() (any, any) { var x vault.Export; fill(reflect.ValueOf(&x).Elem()); return x, toExportDTO(x) }},
	{"RequestView", func() (any, any) {
		var x vault.RequestView
		fill(reflect.ValueOf(&x).Elem())
		return x, toRequestViewDTO(x)
	}},
	{"AuditEntry", func() (any, any) { var x audit.Entry; fill(reflect.ValueOf(&x).Elem()); return x, toAuditEntryDTO(x) }},
	{"AuditEntryBare", func() (any, any) { // the keys API.md lists are there when the entry leaves them out
		x := audit.Entry{Seq: 1, TS: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Action: "policy.load", Decision: audit.Allow}
		return x, toAuditEntryDTO(x)
	}},
	{"QueueItem", func() (any, any) {
		var x vault.QueueItem
		fill(reflect.ValueOf(&x).Elem())
		return x, toQueueItemDTO(x)
	}},
	{"RevertResult", func() (any, any) {
		var x vault.RevertResult
		fill(reflect.ValueOf(&x).Elem())
		return x, toRevertResultDTO(x)
	}},
	{"Withheld", func() (any, any) { var x vault.Withheld; fill(reflect.ValueOf(&x).Elem()); return x, toWithheldDTO(x) }},
	{"Receipt", func() (any, any) { var x vault.Receipt; fill(reflect.ValueOf(&x).Elem()); return x, toReceiptDTO(x) }},
	{"Hold", func() (any, any) { var x vault.Hold; fill(reflect.ValueOf(&x).Elem()); return x, toHoldDTO(x) }},
	{"TagView", func() (any, any) { var x vault.TagView; fill(reflect.ValueOf(&x).Elem()); return x, toTagViewDTO(x) }},
	{"TagsResult", func() (any, any) {
		var x vault.TagsResult
		fill(reflect.ValueOf(&x).Elem())
		return x, toTagsResultDTO(x)
	}},
	{"CheckpointInfo", func() (any, any) {
		var x vault.CheckpointInfo
		fill(reflect.ValueOf(&x).Elem())
		return x, toCheckpointInfoDTO(x)
	}},
	{"InclusionProof", func() (any, any) {
		var x vault.InclusionProof
		fill(reflect.ValueOf(&x).Elem())
		return x, toInclusionProofDTO(x)
	}},
}

// TestWireFormatIsTheContract encodes every DTO, built from a domain value with every field set, and
// compares it with testdata/dto/<type>.json: a field renamed, dropped or added on the wire fails here.
// The golden files were first written from the domain types' own JSON tags, before those were removed.
func TestWireFormatIsTheContract(t *testing.T) {
	for _, tc := range dtoCases {
		t.Run(tc.name, func(t *testing.T) {
			_, wire := tc.make()
			got, err := json.MarshalIndent(wire, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "dto", tc.name+".json")
			if *updateDTO {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(want) != string(got)+"\n" {
				t.Errorf("%s on the wire:\n%s\nwant:\n%s", tc.name, got, want)
			}
		})
	}
}

// fill sets every settable field of v to a recognisable non-zero value (one element per slice and map).
func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString("s")
	case reflect.Int, reflect.Int64:
		v.SetInt(7)
	case reflect.Uint32:
		v.SetUint(3)
	case reflect.Float64:
		v.SetFloat(0.25)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem())
		v.Set(p)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(s.Index(0))
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		val := reflect.New(v.Type().Elem()).Elem()
		if val.Kind() == reflect.Interface {
			val.Set(reflect.ValueOf("v"))
		} else {
			fill(val)
		}
		m.SetMapIndex(reflect.ValueOf("k"), val)
		v.Set(m)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i))
			}
		}
	}
}
