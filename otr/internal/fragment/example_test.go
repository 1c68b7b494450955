package fragment_test

import (
	"fmt"
	"time"

	"github.com/otrbridge/otrbridge/otr/internal/fragment"
)

func ExampleSplit() {
	msg := "?OTR:AAMDJ+MVmSfjFZcAAAAAAQAAAAIAAADA1g5IjD1ZGLDVQEyCgCyn9hbrL3KAbGDdzE2ZkMyTKl7XfkSxh8YJnudstiB74i4BzT0W2haClg6dMary/jo9sMudwmUdlnKpIGEKXWdvJKT+hQ26h9nzMgEditLB8vjPEWAJ6gBXvZrY6ZQrx3gb4v0UaSMOMiR5sB7Eaulb2Yc6RmRnnlxgUUC2alosg4WIeFN951PLjScajVba6dqlDi+q1H5tPvI5SWMN7PCBWIJ41+WvF+5IAZzQZYgNaVLbAAAAAAAAAAEAAAAHwNiIi5Ms+4PsY/L2ipkTtquknfx6HodLvk3RAAAAAA==."
	frags, err := fragment.Split(msg, 150, 3, 0x5a73a599, 0x27e31597)
	if err != nil {
		panic(err)
	}
	for _, f := range frags {
		fmt.Println(f)
	}
	// Output:
	// ?OTR|5a73a599|27e31597,00001,00004,?OTR:AAMDJ+MVmSfjFZcAAAAAAQAAAAIAAADA1g5IjD1ZGLDVQEyCgCyn9hbrL3KAbGDdzE2ZkMyTKl7XfkSxh8YJnudstiB74i4BzT0W2haClg6d,
	// ?OTR|5a73a599|27e31597,00002,00004,Mary/jo9sMudwmUdlnKpIGEKXWdvJKT+hQ26h9nzMgEditLB8vjPEWAJ6gBXvZrY6ZQrx3gb4v0UaSMOMiR5sB7Eaulb2Yc6RmRnnlxgUUC2alosg,
	// ?OTR|5a73a599|27e31597,00003,00004,4WIeFN951PLjScajVba6dqlDi+q1H5tPvI5SWMN7PCBWIJ41+WvF+5IAZzQZYgNaVLbAAAAAAAAAAEAAAAHwNiIi5Ms+4PsY/L2ipkTtquknfx6Ho,
	// ?OTR|5a73a599|27e31597,00004,00004,dLvk3RAAAAAA==.,
}

func ExampleReassembler() {
	r := fragment.NewReassembler(fragment.Limits{OwnInstance: 0x27e31597})
	now := time.Unix(1700000000, 0)
	for _, line := range []string{
		"?OTR|5a73a599|27e31597,00001,00002,?OTR:AAMDJ+MV,",
		"hello", // plain text in between is passed on
		"?OTR|5a73a599|27e31597,00002,00002,mSfjFZc=.,",
	} {
		msg, done, err := r.Add(now, line)
		fmt.Printf("%q %v %v\n", msg, done, err)
	}
	// Output:
	// "" false <nil>
	// "hello" true <nil>
	// "?OTR:AAMDJ+MVmSfjFZc=." true <nil>
}
