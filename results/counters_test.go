package results

import (
	"reflect"
	"strings"
	"testing"
)

// TestCounterFields keeps CounterFields in step with Counters: every field,
// in order, under its JSON name, reached by the right pointer. It fails when
// Counters gains a field the list lacks.
func TestCounterFields(t *testing.T) {
	typ := reflect.TypeOf(Counters{})
	if typ.NumField() != len(CounterFields) {
		t.Fatalf("Counters has %d fields, CounterFields %d", typ.NumField(), len(CounterFields))
	}
	var c Counters
	v := reflect.ValueOf(&c).Elem()
	for i := range typ.NumField() {
		v.Field(i).SetInt(int64(i + 1))
	}
	for i, cf := range CounterFields {
		tag, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		if cf.Name != tag {
			t.Errorf("CounterFields[%d].Name = %q; want %q (field %s)", i, cf.Name, tag, typ.Field(i).Name)
		}
		if got := *cf.Ptr(&c); got != int64(i+1) {
			t.Errorf("CounterFields[%d] (%s) reaches field %d; want field %d (%s)", i, cf.Name, got-1, i, typ.Field(i).Name)
		}
		if want := typ.Field(i).Name == "MaxRetryChain"; cf.IsMax != want {
			t.Errorf("CounterFields[%d] (%s).IsMax = %v; want %v", i, cf.Name, cf.IsMax, want)
		}
	}
}

// TestCountersAdd: counts add up field by field, maxima keep the larger.
func TestCountersAdd(t *testing.T) {
	var a, b Counters
	va, vb := reflect.ValueOf(&a).Elem(), reflect.ValueOf(&b).Elem()
	for i := range va.NumField() {
		va.Field(i).SetInt(int64(10 * (i + 1)))
		vb.Field(i).SetInt(int64(i + 1))
	}
	b.MaxRetryChain = 1000
	a.Add(&b)
	for i := range va.NumField() {
		want := int64(11 * (i + 1))
		if va.Type().Field(i).Name == "MaxRetryChain" {
			want = 1000
		}
		if got := va.Field(i).Int(); got != want {
			t.Errorf("after Add, %s = %d; want %d", va.Type().Field(i).Name, got, want)
		}
	}
	a.Add(&Counters{MaxRetryChain: 3})
	if a.MaxRetryChain != 1000 {
		t.Errorf("Add of a smaller maximum: MaxRetryChain = %d; want 1000", a.MaxRetryChain)
	}
}
