package main

import (
	"slices"
	"testing"
)

func TestParseSizes(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []int
		ok   bool
	}{
		{"1000,5000,10000,20000", []int{1000, 5000, 10000, 20000}, true},
		{" 200 , 500,", []int{200, 500}, true},
		{"", nil, false},
		{"1000,x", nil, false},
		{"0", nil, false},
		{"-5", nil, false},
	} {
		got, err := parseSizes(tt.in)
		if (err == nil) != tt.ok || !slices.Equal(got, tt.want) {
			t.Errorf("parseSizes(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
