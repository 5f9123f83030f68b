package testenv

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// RawCollection is a collection of the Env's database, reached through the driver directly —
// what a database administrator with write access can do, behind the server's back. For tests
// that tamper with stored data.
func (e *Env) RawCollection(name string) *mongo.Collection {
	e.T.Helper()
	c, err := mongo.Connect(options.Client().ApplyURI(e.Config.MongoURI))
	if err != nil {
		e.T.Fatalf("connect: %v", err)
	}
	e.T.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	return c.Database(e.Config.MongoDatabase).Collection(name)
}
