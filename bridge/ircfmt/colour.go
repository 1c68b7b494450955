package ircfmt

import (
	"strconv"
	"strings"
)

// palette holds the RGB value of every mIRC colour number: 0-15 are the
// classic colours, 16-98 the extended set that modern clients (mIRC, irssi,
// WeeChat, The Lounge, ...) agree on.
var palette = [99]uint32{
	0xffffff, 0x000000, 0x00007f, 0x009300, 0xff0000, 0x7f0000, 0x9c009c, 0xfc7f00,
	0xffff00, 0x00fc00, 0x009393, 0x00ffff, 0x0000fc, 0xff00ff, 0x7f7f7f, 0xd2d2d2,
	0x470000, 0x472100, 0x474700, 0x324700, 0x004700, 0x00472c, 0x004747, 0x002747, 0x000047, 0x2e0047, 0x470047, 0x47002a,
	0x740000, 0x743a00, 0x747400, 0x517400, 0x007400, 0x007449, 0x007474, 0x004074, 0x000074, 0x4b0074, 0x740074, 0x740045,
	0xb50000, 0xb56300, 0xb5b500, 0x7db500, 0x00b500, 0x00b571, 0x00b5b5, 0x0063b5, 0x0000b5, 0x7500b5, 0xb500b5, 0xb5006b,
	0xff0000, 0xff8c00, 0xffff00, 0xb2ff00, 0x00ff00, 0x00ffa0, 0x00ffff, 0x008cff, 0x0000ff, 0xa500ff, 0xff00ff, 0xff0098,
	0xff5959, 0xffb459, 0xffff71, 0xcfff60, 0x6fff6f, 0x65ffc9, 0x6dffff, 0x59b4ff, 0x5959ff, 0xc459ff, 0xff66ff, 0xff59bc,
	0xff9c9c, 0xffd39c, 0xffff9c, 0xe2ff9c, 0x9cff9c, 0x9cffdb, 0x9cffff, 0x9cd3ff, 0x9c9cff, 0xdc9cff, 0xff9cff, 0xff94d3,
	0x000000, 0x131313, 0x282828, 0x363636, 0x4d4d4d, 0x656565, 0x818181, 0x9f9f9f, 0xbcbcbc, 0xe2e2e2, 0xffffff,
}

// nearestMIRC returns the classic colour (0-15) closest to rgb. Only the
// classic sixteen are used when writing, because older clients show the
// extended numbers as the default colour.
func nearestMIRC(rgb uint32) int {
	best, bestDist := 0, int64(-1)
	for i := 0; i < 16; i++ {
		if d := colourDistance(rgb, palette[i]); bestDist < 0 || d < bestDist {
			best, bestDist = i, d
		}
	}
	return best
}

// colourDistance is the "redmean" approximation of perceived distance: cheap
// and much closer to what eyes see than plain RGB distance.
func colourDistance(a, b uint32) int64 {
	r1, g1, b1 := int64(a>>16&0xff), int64(a>>8&0xff), int64(a&0xff)
	r2, g2, b2 := int64(b>>16&0xff), int64(b>>8&0xff), int64(b&0xff)
	rm := (r1 + r2) / 2
	dr, dg, db := r1-r2, g1-g2, b1-b2
	return ((512+rm)*dr*dr)>>8 + 4*dg*dg + ((767-rm)*db*db)>>8
}

// rgbOf returns the RGB value a colour stands for.
func rgbOf(c colour) uint32 {
	if c.kind == colourMIRC {
		return palette[c.value]
	}
	return c.value
}

// namedColours are the CSS colour names people actually type; anything else
// in a Matrix message comes as a hex value from the client.
var namedColours = map[string]uint32{
	"black": 0x000000, "white": 0xffffff, "red": 0xff0000, "green": 0x008000,
	"blue": 0x0000ff, "yellow": 0xffff00, "orange": 0xffa500, "purple": 0x800080,
	"pink": 0xffc0cb, "brown": 0xa52a2a, "grey": 0x808080, "gray": 0x808080,
	"silver": 0xc0c0c0, "lightgrey": 0xd3d3d3, "lightgray": 0xd3d3d3,
	"darkgrey": 0xa9a9a9, "darkgray": 0xa9a9a9, "maroon": 0x800000,
	"navy": 0x000080, "teal": 0x008080, "olive": 0x808000, "lime": 0x00ff00,
	"aqua": 0x00ffff, "cyan": 0x00ffff, "fuchsia": 0xff00ff, "magenta": 0xff00ff,
	"lightblue": 0xadd8e6, "darkblue": 0x00008b, "lightgreen": 0x90ee90,
	"darkgreen": 0x006400, "darkred": 0x8b0000, "gold": 0xffd700,
	"violet": 0xee82ee, "indigo": 0x4b0082, "turquoise": 0x40e0d0,
	"lightcyan": 0xe0ffff, "darkcyan": 0x008b8b, "royalblue": 0x4169e1,
	"hotpink": 0xff69b4, "crimson": 0xdc143c, "coral": 0xff7f50,
	"salmon": 0xfa8072, "tomato": 0xff6347, "skyblue": 0x87ceeb,
}

// parseCSSColour understands "#rrggbb", "#rgb", "rgb(r, g, b)" and the names
// above.
func parseCSSColour(s string) (uint32, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if v, ok := namedColours[s]; ok {
		return v, true
	}
	if strings.HasPrefix(s, "#") {
		h := s[1:]
		if len(h) == 3 {
			h = string([]byte{h[0], h[0], h[1], h[1], h[2], h[2]})
		}
		if len(h) != 6 {
			return 0, false
		}
		return hexAt(h, 0)
	}
	if inner, ok := strings.CutPrefix(s, "rgb("); ok {
		inner, ok = strings.CutSuffix(inner, ")")
		parts := strings.Split(inner, ",")
		if !ok || len(parts) != 3 {
			return 0, false
		}
		var v uint32
		for _, p := range parts {
			n, err := strconv.Atoi(strings.TrimSpace(p))
			if err != nil || n < 0 || n > 255 {
				return 0, false
			}
			v = v<<8 | uint32(n)
		}
		return v, true
	}
	return 0, false
}
